"""import → score → filter through a real Celery worker process on Redis and PostgreSQL."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from annotation.api.serializers import JobSerializer
from annotation.models import Item, ItemRevision, Job, JobChunk, Status
from annotation.selectors import job_is_stalled
from annotation.services import ImportRequest, import_file, import_job_create
from pipeline import services
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


def _start_worker(
    *, model_path: str, log_path: Path, extra_env: dict | None = None, beat: bool = False
):
    """A real `celery worker` on the gpu and default queues, using this test's database;
    with `beat`, Celery beat runs inside it (the periodic sweep of stalled jobs)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "VAD_TASKS_EAGER": "0",
        "VAD_IFD_MODEL": model_path,
        "VAD_DEVICE": "cpu",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "vad_review", "worker",
                "-Q", "gpu,default", "-P", "solo", "-c", "1", "-l", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-n", f"test-{uuid.uuid4().hex[:8]}@%h",
                *(["-B", "-s", str(log_path.with_suffix(".schedule"))] if beat else []),
            ],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 90
    while "ready." not in log_path.read_text():
        assert worker.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "worker did not start:\n" + log_path.read_text()
        time.sleep(0.2)
    return worker


@pytest.fixture
def workers(transactional_db, tmp_path):
    """Start real workers; they are stopped (killed if need be) after the test."""
    started = []
    celery_app.control.purge()
    celery_app.conf.task_always_eager = False

    def start(model_path: str, beat: bool = False, **extra_env):
        log_path = tmp_path / f"worker-{len(started)}.log"
        started.append(
            _start_worker(model_path=model_path, log_path=log_path, extra_env=extra_env, beat=beat)
        )
        return started[-1]

    try:
        yield start
    finally:
        celery_app.conf.task_always_eager = True
        for worker in started:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)
        celery_app.control.purge()


@pytest.fixture
def celery_worker_process(workers, model_path):
    return workers(model_path)


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
    # The worker runs the import with its one COPY and its second connection for lookups.
    job = _wait_for(import_job_create(request=ImportRequest(path=vad_file, format="vad")))
    assert (job.status, job.report["created"]) == ("succeeded", 20), job.error
    assert Item.objects.filter(status=Status.CANDIDATE, import_job=job).count() == 20
    again = _wait_for(import_job_create(request=ImportRequest(path=vad_file, format="vad")))
    assert (again.status, again.report["created"], again.report["duplicates"]) == (
        "succeeded",
        0,
        20,
    ), again.error

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


@pytest.fixture(scope="module")
def slow_model_path(tmp_path_factory) -> str:
    """Big enough that one chunk takes seconds on the CPU, so a worker can die inside it."""
    path = tmp_path_factory.mktemp("slow-model") / "toy"
    return str(build_toy_model(path, hidden_size=384, num_layers=6, num_heads=6, seed=12))


def test_a_worker_killed_inside_a_chunk_loses_nothing_and_duplicates_nothing(
    workers, slow_model_path, vad_file
):
    import_file(request=ImportRequest(path=vad_file, format="vad"))
    # One task per chunk; an unacknowledged task comes back within a few seconds.
    env = {
        "VAD_BROKER_VISIBILITY_TIMEOUT": "2",
        "VAD_BROKER_RESTORE_INTERVAL": "1",
        "VAD_BROKER_RESTORE_THROTTLE": "1",
    }
    first = workers(slow_model_path, **env)
    job = services.score_job_start(model=slow_model_path, chunk_size=20, batch_size=1)
    chunk = job.chunks.get()
    deadline = time.monotonic() + 60
    while not JobChunk.objects.filter(pk=chunk.pk, attempts__gte=1).exists():
        assert time.monotonic() < deadline, "the first worker never started the chunk"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # mid-chunk: the model is still running
    first.wait(timeout=10)
    chunk.refresh_from_db()
    assert not chunk.done
    assert not Item.objects.filter(status=Status.SCORED).exists()

    workers(slow_model_path, **env)  # the task was never acknowledged: it is redelivered
    # The default wait: the slow model scores 20 items one at a time, which took over 60 s
    # under `make test`'s two xdist workers on a loaded two-core machine.
    job = _wait_for(job)
    chunk.refresh_from_db()
    assert (job.status, job.done, job.total) == ("succeeded", 20, 20), job.error
    assert chunk.done and chunk.attempts == 2
    assert Item.objects.filter(status=Status.SCORED).count() == 20
    assert ItemRevision.objects.filter(field="status", new_value=Status.SCORED).count() == 20


def test_a_killed_worker_s_job_is_labelled_stalled_and_the_sweep_resumes_it(
    workers, slow_model_path, vad_file, settings
):
    import_file(request=ImportRequest(path=vad_file, format="vad"))
    # The broker's visibility timeout stays at two hours: the chunk the killed worker held is
    # not redelivered during this test, so only the sweep (Celery beat) can resume the job.
    env = {
        "VAD_JOB_HEARTBEAT_SECONDS": "1",
        "VAD_JOB_STALL_SECONDS": "4",
        "VAD_JOB_SWEEP_SECONDS": "1",
    }
    settings.VAD_JOB_STALL_SECONDS = 4
    first = workers(slow_model_path, **env)
    job = services.score_job_start(model=slow_model_path, chunk_size=20, batch_size=1)
    chunk = job.chunks.get()
    deadline = time.monotonic() + 60
    while not JobChunk.objects.filter(pk=chunk.pk, attempts__gte=1).exists():
        assert time.monotonic() < deadline, "the first worker never started the chunk"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # mid-chunk: the model is still running
    first.wait(timeout=10)

    deadline = time.monotonic() + 30
    while not job_is_stalled(job=Job.objects.get(pk=job.pk)):
        assert time.monotonic() < deadline, "the job was never labelled stalled"
        time.sleep(0.2)
    job.refresh_from_db()
    assert job.status == Job.State.RUNNING  # stalled is a label, not a status
    assert JobSerializer(job).data["stalled"] is True

    killed_at = time.monotonic()
    workers(slow_model_path, beat=True, **env)
    job = _wait_for(job, timeout=120)
    resumed_after = time.monotonic() - killed_at
    chunk.refresh_from_db()
    assert (job.status, job.done, job.total) == ("succeeded", 20, 20), job.error
    assert job.report.get("resumed", 0) >= 1 and chunk.attempts == 2
    assert resumed_after < 120
    assert Item.objects.filter(status=Status.SCORED).count() == 20
    assert ItemRevision.objects.filter(field="status", new_value=Status.SCORED).count() == 20
    # The message the killed worker never acknowledged would come back to a later test's
    # workers (after their short visibility timeout) for a job that no longer exists.
    with celery_app.connection_for_write() as conn:
        conn.default_channel.client.delete("unacked", "unacked_index")
