"""import → translate and import → evolve through a real Celery worker process on Redis and
PostgreSQL; the served model is the scripted OpenAI-compatible server on 127.0.0.1."""

from pathlib import Path

import pytest

from annotation.models import Item, Job, Status
from annotation.services import ImportRequest, import_file
from pipeline import services
from scoring.evolution import ALL_OPS

from .test_worker import _wait_for, workers  # noqa: F401  (the worker fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def served_worker(workers, chat_server, settings):  # noqa: F811
    env = {
        "VAD_LLM_BASE_URL": chat_server.url,
        "VAD_TRANSLATE_MODEL": "served-translator",
        "VAD_EVOLVE_MODEL": "served-chat",
        "VAD_LLM_MAX_RETRIES": "0",
    }
    settings.VAD_TRANSLATE_MODEL = env["VAD_TRANSLATE_MODEL"]
    settings.VAD_EVOLVE_MODEL = env["VAD_EVOLVE_MODEL"]
    return workers("unused-ifd-model", **env)


def test_saferlhf_sample_is_translated_into_candidates_by_a_worker(served_worker, chat_server):
    import_file(
        request=ImportRequest(
            path=FIXTURES / "pku_saferlhf_alpaca7b_test_sample.jsonl", format="saferlhf"
        )
    )
    english = dict(
        Item.objects.filter(status=Status.PENDING_TRANSLATION).values_list("pk", "instruction")
    )
    assert english
    job = _wait_for(services.translate_job_start(chunk_size=4))
    assert (job.status, job.done, job.total) == ("succeeded", len(english), len(english)), job.error
    assert job.report["translated"] == len(english)
    for item in Item.objects.filter(pk__in=english):
        assert item.status == Status.CANDIDATE
        assert item.origin["en_instruction"] == english[item.pk] and item.origin["en_output"]
        assert item.instruction.startswith("这是翻译")
    again = _wait_for(services.translate_job_start())
    assert (again.status, again.total) == ("succeeded", 0)


def test_cvalues_prompts_evolve_two_rounds_through_a_worker(served_worker, chat_server):
    import_file(
        request=ImportRequest(
            path=FIXTURES / "cvalues_responsibility_prompts.jsonl", format="cvalues"
        )
    )
    seeds = list(
        Item.objects.filter(status=Status.SEED).order_by("pk").values_list("pk", flat=True)
    )
    chosen = seeds[:24]
    job = _wait_for(
        services.evolve_job_start(rounds=2, ops=ALL_OPS, chunk_size=5, item_ids=chosen),
        timeout=180,
    )
    assert job.status == "succeeded", job.error
    assert job.chunks.count() == 10 and job.done == job.total == 48
    round1 = {i.pk: i for i in Item.objects.filter(origin__round=1)}
    round2 = list(Item.objects.filter(origin__round=2))
    assert sorted(i.parent_id for i in round1.values()) == chosen
    assert sorted(i.parent_id for i in round2) == sorted(round1)
    for child in round2:
        parent = round1[child.parent_id]
        assert (
            child.source_key == (f"evolve:{parent.pk}:{child.origin['operation']}:2")
            and child.origin["seed_id"] == parent.parent_id
        )
        assert child.status == Status.CANDIDATE
    count = Item.objects.count()
    rerun = _wait_for(services.evolve_job_start(rounds=2, ops=ALL_OPS, item_ids=chosen))
    assert (rerun.status, rerun.total) == (Job.State.SUCCEEDED, 0)
    assert Item.objects.count() == count
