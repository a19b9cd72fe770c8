"""import → score → filter through a real Celery worker process on Redis and PostgreSQL."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from annotation.models import Item, Job, Status
from annotation.services import import_file
from scoring import services
from scoring.backends import ScoringInput, get_scorer
from scoring.toy import build_toy_model
from vad_review.celery import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> str:
    return str(build_toy_model(tmp_path_factory.mktemp("worker-model") / "toy", seed=11))


@pytest.fixture
def celery_worker_process(transactional_db, model_path, tmp_path):
    """A real `celery worker` on the gpu and default queues, using this test's database."""
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "VAD_TASKS_EAGER": "0",
        "VAD_IFD_MODEL": model_path,
        "VAD_DEVICE": "cpu",
        "PYTHONUNBUFFERED": "1",
    }
    celery_app.control.purge()
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "vad_review", "worker",
                "-Q", "gpu,default", "-P", "solo", "-c", "1", "-l", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-n", f"test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 90
    while "ready." not in log_path.read_text():
        assert worker.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "worker did not start:\n" + log_path.read_text()
        time.sleep(0.2)
    celery_app.conf.task_always_eager = False
    try:
        yield log_path
    finally:
        celery_app.conf.task_always_eager = True
        worker.terminate()
        worker.wait(timeout=30)


def _wait_for(job: Job, timeout: float = 120) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job.pk} still {job.status} after {timeout}s")


@pytest.fixture
def vad_file(tmp_path) -> Path:
    topics = ["诚信", "孝道", "公德", "法治", "环保", "爱国", "友善", "敬业", "节俭", "助人"]
    records = [
        {
            "instruction": f"请谈谈你对{topic}的理解（第{n}题）。",
            "input": "" if n % 3 else "请结合日常生活举例。",
            "output": f"{topic}是社会主义核心价值观的重要内容。例如：{topic * (n % 4 + 1)}。",
            "source": "manual",
            "categorization": "",
        }
        for n, topic in enumerate(topics * 2)
    ]
    path = tmp_path / "manual.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8")
    return path


def test_import_score_filter_through_a_real_worker(celery_worker_process, vad_file, model_path):
    report = import_file(path=vad_file, fmt="vad")
    assert report.created == 20
    assert Item.objects.filter(status=Status.CANDIDATE).count() == 20

    job = _wait_for(services.score_job_start(model=model_path, chunk_size=6))
    assert (job.status, job.done, job.total) == ("succeeded", 20, 20), job.error
    assert job.chunks.filter(done=True).count() == 4

    # The worker loaded the model through the real loader and scored like the numeric core.
    items = list(Item.objects.order_by("pk"))
    expected = get_scorer(model_path, device="cpu").score(
        [ScoringInput(i.instruction, i.input, i.output) for i in items]
    )
    for item, result in zip(items, expected, strict=True):
        assert item.status == Status.SCORED
        assert item.ifd == pytest.approx(result.ifd, abs=1e-4)

    rerun = _wait_for(services.score_job_start(model=model_path))
    assert (rerun.status, rerun.total) == ("succeeded", 0)
    assert list(Item.objects.order_by("pk").values_list("scored_at", flat=True)) == [
        i.scored_at for i in items
    ]

    keep_top = 0.5
    below_one = sorted((i for i in items if i.ifd < 1), key=lambda i: (-i.ifd, i.pk))
    expected_kept = {i.pk for i in below_one[: int(keep_top * len(items))]}
    job = _wait_for(services.filter_job_start(keep_top=keep_top))
    assert job.status == "succeeded", job.error
    kept = set(Item.objects.filter(status=Status.IN_REVIEW).values_list("pk", flat=True))
    assert kept == expected_kept
    assert Item.objects.filter(status=Status.FILTERED_OUT).count() == 20 - len(expected_kept)
