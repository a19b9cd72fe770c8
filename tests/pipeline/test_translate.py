"""Translate jobs on PostgreSQL with tasks run in-process: a served model (a scripted
OpenAI-compatible server on 127.0.0.1) and a tiny MarianMT model through the real loader."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Item, ItemRevision, Job, Status
from annotation.services import ImportRequest, import_file, item_change_status
from pipeline import services
from scoring.generation import GenerationError
from scoring.toy import build_toy_seq2seq
from scoring.translation import SEQ2SEQ_PROMPT_NAME, TRANSLATION_PROMPT_NAME

from .conftest import Refusal, default_respond

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def pending(db) -> list[Item]:
    import_file(
        request=ImportRequest(
            path=FIXTURES / "pku_saferlhf_alpaca7b_test_sample.jsonl", format="saferlhf"
        )
    )
    items = list(Item.objects.filter(status=Status.PENDING_TRANSLATION).order_by("pk"))
    assert len(items) >= 3
    return items


def _run(start, capture, **kwargs) -> Job:
    with capture(execute=True):  # the queued chunk tasks run (eager)
        job = start(**kwargs)
    job.refresh_from_db()
    return job


def test_served_translation_makes_candidates_with_the_english_kept_in_origin(
    served, pending, django_capture_on_commit_callbacks
):
    english = {i.pk: (i.instruction, i.output) for i in pending}
    job = _run(services.translate_job_start, django_capture_on_commit_callbacks, chunk_size=2)
    assert (job.status, job.done, job.total) == ("succeeded", len(pending), len(pending)), job.error
    assert job.chunks.count() == (len(pending) + 1) // 2
    assert job.report["translated"] == len(pending)
    for item in Item.objects.filter(pk__in=english):
        assert item.status == Status.CANDIDATE
        assert (item.origin["en_instruction"], item.origin["en_output"]) == english[item.pk]
        # Traditional from the model, Simplified after OpenCC; the "譯文：" label dropped.
        assert item.instruction.startswith("这是翻译（") and "譯" not in item.output
        assert item.origin["translation"]["model"] == "served-translator"
        assert item.origin["translation"]["prompt"] == TRANSLATION_PROMPT_NAME
        assert "{text}" in item.origin["translation"]["template"]
        fields = set(ItemRevision.objects.filter(item=item).values_list("field", flat=True))
        assert fields == {"instruction", "output", "status"}
    # One request per non-empty field, each holding the English in the prompt template.
    assert len(served.requests) == 2 * len(pending)
    assert served.prompts(pending[0].instruction)


def test_a_rerun_translates_nothing_twice(served, pending, django_capture_on_commit_callbacks):
    job = _run(services.translate_job_start, django_capture_on_commit_callbacks)
    requests = len(served.requests)
    assert services.translate_chunk_run(job_id=job.pk, chunk_index=0) == 0  # redelivered
    again = _run(services.translate_job_start, django_capture_on_commit_callbacks)
    assert (again.status, again.total) == ("succeeded", 0)
    assert len(served.requests) == requests
    assert ItemRevision.objects.filter(field="status", new_value="candidate").count() == len(
        pending
    )


def test_flagged_translations_become_candidates_and_an_empty_one_stays_pending(
    served, pending, django_capture_on_commit_callbacks
):
    first, second, third = pending[:3]

    def respond(messages):
        prompt = messages[-1]["content"]
        if first.instruction in prompt:
            return "   "
        if second.output in prompt:
            return "我不知道" * 6
        if third.output in prompt:
            return "好。"  # far shorter than the English answer
        english = prompt.split("\n\n", 1)[1]  # a third as many characters as the English
        return "".join(chr(0x4E00 + ord(c) * 37 % 5000) for c in english[::3])

    served.respond = respond
    job = _run(
        services.translate_job_start,
        django_capture_on_commit_callbacks,
        item_ids=[first.pk, second.pk, third.pk],
    )
    assert job.report == {"translated": 2, "flagged": 2, "empty": 1}, job.report
    first.refresh_from_db(), second.refresh_from_db(), third.refresh_from_db()
    assert (first.status, first.flags) == (Status.PENDING_TRANSLATION, ["translation_empty"])
    assert first.origin["translation"]["model"] == "served-translator"
    assert second.status == Status.CANDIDATE and "translation_repetition" in second.flags
    assert (third.status, third.flags) == (Status.CANDIDATE, ["translation_length_ratio"])
    assert third.origin["translation"]["checks"]["output"]["length_ratio"] < 0.15


def test_a_translation_duplicating_another_item_is_filtered_out_not_applied(
    served, pending, django_capture_on_commit_callbacks
):
    served.respond = lambda messages: "同一个译文。"
    job = _run(
        services.translate_job_start,
        django_capture_on_commit_callbacks,
        item_ids=[p.pk for p in pending[:2]],
    )
    assert (job.report["translated"], job.report["duplicates"]) == (1, 1)
    statuses = sorted(
        Item.objects.filter(pk__in=[p.pk for p in pending[:2]]).values_list("status", flat=True)
    )
    assert statuses == [Status.CANDIDATE, Status.FILTERED_OUT]
    dropped = Item.objects.get(pk__in=[p.pk for p in pending[:2]], status=Status.FILTERED_OUT)
    assert dropped.status_reason.startswith("translation duplicates item")


def test_an_admin_has_one_item_translated_again(
    served, pending, admin_user, django_capture_on_commit_callbacks
):
    _run(services.translate_job_start, django_capture_on_commit_callbacks)
    item = Item.objects.get(pk=pending[0].pk)
    served.respond = lambda messages: "重新翻译的结果：" + messages[-1]["content"][-8:]
    job = _run(
        services.retranslate_item_start,
        django_capture_on_commit_callbacks,
        user=admin_user,
        item_id=item.pk,
    )
    assert (job.status, job.total, job.created_by) == ("succeeded", 1, admin_user), job.error
    again = Item.objects.get(pk=item.pk)
    assert again.instruction.startswith("重新翻译的结果") and again.instruction != item.instruction
    assert again.origin["en_instruction"] == item.origin["en_instruction"]
    assert (again.status, again.version) == (Status.CANDIDATE, item.version + 1)
    assert ItemRevision.objects.filter(item=item, reason="retranslated").exists()
    item_change_status(item_id=item.pk, status=Status.IN_REVIEW)
    with pytest.raises(services.PipelineConfigError, match="not in review"):
        services.retranslate_item_start(user=admin_user, item_id=item.pk)


def test_a_cancelled_job_writes_nothing(served, pending):
    from annotation.services import job_cancel

    job = services.translate_job_start()  # the chunk tasks are not run (no commit hooks)
    job_cancel(job_id=job.pk)
    assert services.translate_chunk_run(job_id=job.pk, chunk_index=0) == 0
    assert not Item.objects.filter(status=Status.CANDIDATE).exists()
    assert served.requests == []


def test_a_failed_job_resumes_where_it_stopped(
    settings, served, pending, django_capture_on_commit_callbacks
):
    settings.VAD_LLM_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens: the chunk fails
    job = services.translate_job_start(chunk_size=len(pending))
    with pytest.raises(GenerationError):
        services.translate_chunk_run(job_id=job.pk, chunk_index=0)
    job.refresh_from_db()
    assert job.status == Job.State.FAILED and "chunk 0" in job.error
    settings.VAD_LLM_BASE_URL = served.url
    with django_capture_on_commit_callbacks(execute=True):
        services.translate_job_resume(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.done) == (Job.State.SUCCEEDED, len(pending)), job.error


def test_an_item_the_model_refuses_is_flagged_and_the_rest_is_translated(
    served, pending, django_capture_on_commit_callbacks
):
    refused = pending[1]

    def respond(messages):
        if refused.output[:40] in messages[-1]["content"]:
            raise Refusal("This model's maximum context length is 4096 tokens.")
        return default_respond(messages)

    served.respond = respond
    ids = [p.pk for p in pending]
    job = _run(services.translate_job_start, django_capture_on_commit_callbacks, item_ids=ids)
    assert job.status == Job.State.SUCCEEDED, job.error
    assert (job.report["translated"], job.report["failed"]) == (len(pending) - 1, 1), job.report
    refused.refresh_from_db()
    assert (refused.status, refused.flags) == (Status.PENDING_TRANSLATION, ["translation_failed"])
    error = refused.origin["translation_error"]
    assert error["model"] == "served-translator" and error["job_id"] == job.pk
    assert "HTTP 400" in error["error"] and "maximum context length" in error["error"]
    assert not ItemRevision.objects.filter(item=refused).exists()  # its text untouched
    others = Item.objects.filter(pk__in=ids).exclude(pk=refused.pk)
    assert set(others.values_list("status", flat=True)) == {Status.CANDIDATE}

    served.respond = default_respond  # a later job translates it, and the flag goes
    job = _run(services.translate_job_start, django_capture_on_commit_callbacks)
    assert (job.report["translated"], job.report.get("failed")) == (1, None), job.report
    refused.refresh_from_db()
    assert refused.status == Status.CANDIDATE and "translation_failed" not in refused.flags
    assert "translation_error" not in refused.origin


def test_more_refusals_than_one_in_ten_fail_the_chunk_and_write_nothing(
    served, pending, django_capture_on_commit_callbacks
):
    def respond(messages):
        if any(p.output[:40] in messages[-1]["content"] for p in pending[:2]):
            raise Refusal("too long")
        return default_respond(messages)

    served.respond = respond
    job = services.translate_job_start(item_ids=[p.pk for p in pending])
    with pytest.raises(GenerationError, match="too long"):
        services.translate_chunk_run(job_id=job.pk, chunk_index=0)
    job.refresh_from_db()
    assert job.status == Job.State.FAILED and "too long" in job.error
    items = Item.objects.filter(pk__in=[p.pk for p in pending])
    assert set(items.values_list("status", flat=True)) == {Status.PENDING_TRANSLATION}
    assert not any(item.flags for item in items)


@pytest.fixture(scope="module")
def marian_path(tmp_path_factory) -> str:
    return str(build_toy_seq2seq(tmp_path_factory.mktemp("marian") / "marian", seed=3))


def test_a_tiny_marian_model_translates_sentence_by_sentence(
    settings, marian_path, django_capture_on_commit_callbacks
):
    from tests.factories import make_item

    settings.VAD_LLM_BASE_URL = ""
    settings.VAD_DEVICE = "cpu"
    settings.VAD_GENERATION_MAX_NEW_TOKENS = 8
    english = "Recycle them safely. Here is how:\n\n1. Tape the ends.\n2. Find a drop-off point."
    item = make_item(
        instruction="How do I recycle batteries?",
        output=english,
        source="translated",
        status=Status.PENDING_TRANSLATION,
    )
    job = _run(
        services.translate_job_start,
        django_capture_on_commit_callbacks,
        model=marian_path,
        item_ids=[item.pk],
    )
    assert job.status == "succeeded", job.error
    item.refresh_from_db()
    assert item.origin["translation"]["model"] == marian_path
    assert item.origin["translation"]["prompt"] == SEQ2SEQ_PROMPT_NAME
    assert (item.status, item.origin["en_output"]) == (Status.CANDIDATE, english)
    # Sentence by sentence, the layout put back: a blank line, then the two list items.
    lines = item.output.split("\n")
    assert len(lines) == 4 and lines[1] == ""
    assert lines[2].startswith("1. ") and lines[3].startswith("2. ")


def test_without_a_model_every_surface_names_the_setting(settings, pending, admin_api, admin_user):
    settings.VAD_TRANSLATE_MODEL = ""
    with pytest.raises(CommandError, match="VAD_TRANSLATE_MODEL"):
        call_command("run_pipeline", "translate", "--no-wait")
    response = admin_api.post("/api/v1/pipeline/translate/", {}, format="json")
    assert response.status_code == 400 and "VAD_TRANSLATE_MODEL" in response.json()["detail"]
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    page = client.post("/pipeline/translate/", {}, HTTP_HX_REQUEST="true")
    assert page.status_code == 200 and "VAD_TRANSLATE_MODEL" in page.content.decode()
    assert not Job.objects.exists()


def test_the_translate_api_is_for_admins_and_starts_a_job(
    served, pending, admin_api, reviewer_api, django_capture_on_commit_callbacks
):
    assert reviewer_api.post("/api/v1/pipeline/translate/", {}, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(
            "/api/v1/pipeline/translate/", {"item_ids": [pending[0].pk]}, format="json"
        )
    assert response.status_code == 202, response.content
    assert response.json()["total"] == 1
    assert Item.objects.get(pk=pending[0].pk).status == Status.CANDIDATE
