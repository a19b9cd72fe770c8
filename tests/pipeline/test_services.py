"""Score and filter jobs on PostgreSQL with a real (tiny, random-weight) model; tasks eager."""

import math
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Item, ItemRevision, Job, JobChunk, Status
from annotation.services import job_cancel
from pipeline import services
from scoring.backends import ScoringInput, get_scorer
from scoring.toy import build_toy_model
from tests.factories import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> str:
    return str(build_toy_model(tmp_path_factory.mktemp("ifd-model") / "toy", seed=5))


@pytest.fixture(scope="module")
def other_model_path(tmp_path_factory) -> str:
    return str(build_toy_model(tmp_path_factory.mktemp("ifd-model-2") / "toy2", seed=6))


@pytest.fixture
def candidates() -> list[Item]:
    texts = [
        ("什么是诚信？", "", "诚信是做人的根本，言行一致。"),
        ("请解释社会公德。", "在公共场所", "社会公德是人们在公共生活中应当遵守的行为准则。"),
        ("Why does honesty matter?", "", "Honesty builds trust."),
        ("如何看待爱国？", "", "爱国是每个公民的责任。"),
        ("请用一句话总结。", "环境保护人人有责。", "保护环境需要每个人参与。"),
    ]
    return [
        make_item(instruction=i, input=x, output=o, status=Status.CANDIDATE) for i, x, o in texts
    ]


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Execute on_commit callbacks (task enqueues) inside the test transaction."""

    def run(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return run


def test_score_job_scores_every_candidate_like_the_numeric_core(
    candidates, model_path, admin_user, run_on_commit
):
    job = run_on_commit(
        services.score_job_start, user=admin_user, model=model_path, chunk_size=2, batch_size=3
    )
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("succeeded", 5, 5)
    assert JobChunk.objects.filter(job=job, done=True).count() == 3

    expected = get_scorer(model_path, device="cpu").score(
        [ScoringInput(i.instruction, i.input, i.output) for i in candidates]
    )
    for item, result in zip(candidates, expected, strict=True):
        item.refresh_from_db()
        assert item.status == Status.SCORED and item.version == 2
        assert item.ifd == pytest.approx(result.ifd, abs=1e-4)
        assert item.ifd_ppl == pytest.approx(result.ifd_ppl, rel=1e-4)
        assert item.ifd_model == model_path
        assert item.ifd_params["max_answer_tokens"] == 512
        assert item.ifd_params["answer_tokens"] == result.answer_tokens
        assert item.ifd_params["job_id"] == job.pk
        assert item.updated_at == item.scored_at  # exports filtered by updated_after see it
        assert item.revisions.get(field="status").new_value == Status.SCORED


def test_running_score_again_scores_nothing_twice(candidates, model_path, run_on_commit):
    run_on_commit(services.score_job_start, model=model_path)
    before = list(Item.objects.order_by("pk").values_list("scored_at", "version"))
    again = run_on_commit(services.score_job_start, model=model_path)
    again.refresh_from_db()
    assert (again.status, again.total, again.done) == ("succeeded", 0, 0)
    assert list(Item.objects.order_by("pk").values_list("scored_at", "version")) == before


def test_a_redelivered_chunk_writes_and_counts_nothing_twice(candidates, model_path):
    job = services.score_job_start(model=model_path, chunk_size=10)  # not enqueued: no commit
    assert services.score_chunk_run(job_id=job.pk, chunk_index=0) == 5
    assert services.score_chunk_run(job_id=job.pk, chunk_index=0) == 0
    job.refresh_from_db()
    assert (job.status, job.done) == ("succeeded", 5)
    assert ItemRevision.objects.filter(field="status").count() == 5


def test_a_job_whose_chunk_was_lost_resumes_with_only_that_chunk(
    candidates, model_path, run_on_commit
):
    job = services.score_job_start(model=model_path, chunk_size=2)  # nothing enqueued
    services.score_chunk_run(job_id=job.pk, chunk_index=0)
    job.refresh_from_db()
    assert (job.status, job.done) == ("running", 2)
    run_on_commit(services.score_job_resume, job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("succeeded", 5, 5)
    assert not Item.objects.filter(status=Status.CANDIDATE).exists()


def test_a_cancelled_job_scores_nothing_more(candidates, model_path, admin_user):
    job = services.score_job_start(model=model_path, chunk_size=2)
    services.score_chunk_run(job_id=job.pk, chunk_index=0)
    job_cancel(job_id=job.pk, user=admin_user)
    assert services.score_chunk_run(job_id=job.pk, chunk_index=1) == 0
    assert Item.objects.filter(status=Status.SCORED).count() == 2


def test_rescore_with_another_model_overwrites_and_records(
    candidates, model_path, other_model_path, run_on_commit
):
    run_on_commit(services.score_job_start, model=model_path)
    first = {i.pk: i.ifd for i in Item.objects.all()}
    job = run_on_commit(services.score_job_start, model=other_model_path, rescore=True)
    job.refresh_from_db()
    assert job.done == 5
    for item in Item.objects.all():
        assert item.ifd_model == other_model_path and item.status == Status.SCORED
        revision = item.revisions.get(field="ifd")
        assert revision.old_value == f"{first[item.pk]} ({model_path})"
    # Rescoring does not change the item's version: only the five fields and status do.
    assert set(Item.objects.values_list("version", flat=True)) == {2}


def test_reviewed_items_are_never_scored(model_path, run_on_commit):
    accepted = make_item(status=Status.ACCEPTED, categorization="person")
    in_review = make_item(status=Status.IN_REVIEW)
    job = run_on_commit(services.score_job_start, model=model_path, rescore=True)
    assert job.total == 0
    for item in (accepted, in_review):
        item.refresh_from_db()
        assert item.ifd is None


def test_score_without_a_configured_model_is_a_clear_error(settings, candidates):
    settings.VAD_IFD_MODEL = ""
    with pytest.raises(services.PipelineConfigError, match="VAD_IFD_MODEL"):
        services.score_job_start()


def _scored(ifds: list[float]) -> list[Item]:
    return [make_item(status=Status.SCORED, ifd=v, ifd_model="m") for v in ifds]


IFDS = [0.95, 1.0, 1.3, 0.2, 0.6, 0.6, 0.8, 0.1, 0.45, 0.99]


def _statuses(items: list[Item]) -> dict[int, str]:
    return dict(Item.objects.filter(pk__in=[i.pk for i in items]).values_list("pk", "status"))


def test_filter_drops_ifd_at_least_one_and_keeps_the_top_fraction(run_on_commit, admin_user):
    items = _scored(IFDS)
    job = run_on_commit(services.filter_job_start, user=admin_user, keep_top=0.5)
    job.refresh_from_db()
    below_one = sorted((i for i in items if i.ifd < 1), key=lambda i: (-i.ifd, i.pk))
    expected_kept = {i.pk for i in below_one[: math.floor(0.5 * len(items))]}
    statuses = _statuses(items)
    assert {pk for pk, s in statuses.items() if s == Status.IN_REVIEW} == expected_kept
    assert all(statuses[i.pk] == Status.FILTERED_OUT for i in items if i.pk not in expected_kept)
    ge_one = Item.objects.filter(pk__in=[i.pk for i in items if i.ifd >= 1])
    assert {i.status_reason for i in ge_one} == {services.DROP_NOT_HELPFUL}
    assert job.report == {
        "considered": 10,
        "dropped_ifd_ge_1": 2,
        "dropped_low_ifd": 3,
        "kept": 5,
        "min_ifd": None,
        "keep_top": 0.5,
    }
    assert job.status == "succeeded"


def test_filter_with_min_ifd_keeps_exactly_the_items_between_it_and_one(run_on_commit):
    items = _scored(IFDS)
    run_on_commit(services.filter_job_start, min_ifd=0.6)
    statuses = _statuses(items)
    for item in items:
        kept = 0.6 <= item.ifd < 1
        assert statuses[item.pk] == (Status.IN_REVIEW if kept else Status.FILTERED_OUT)


def test_filter_never_reopens_reviewed_items(run_on_commit):
    rejected = make_item(status=Status.REJECTED, ifd=0.5, ifd_model="m")
    run_on_commit(services.filter_job_start, keep_top=1.0)
    rejected.refresh_from_db()
    assert rejected.status == Status.REJECTED


@pytest.mark.parametrize(
    "options",
    [{"min_ifd": 0.5, "keep_top": 0.5}, {"keep_top": 0}, {"keep_top": 1.5}],
)
def test_filter_refuses_contradictory_or_out_of_range_options(options):
    with pytest.raises(services.PipelineConfigError):
        services.filter_job_start(**options)


@pytest.mark.django_db(transaction=True)
def test_run_pipeline_command_scores_then_filters(candidates, model_path, capsys):
    call_command("run_pipeline", "score", "--model", model_path, "--chunk-size", "2")
    assert Item.objects.filter(status=Status.SCORED).count() == 5
    call_command("run_pipeline", "filter", "--min-ifd", "0")
    out = capsys.readouterr().out
    assert "score job" in out and "filter job" in out and "succeeded" in out
    assert re.search(r"filter job \d+: 5 items", out), out  # counted before it runs
    assert not Item.objects.filter(status__in=[Status.CANDIDATE, Status.SCORED]).exists()


def test_run_pipeline_command_rejects_both_selection_rules():
    with pytest.raises((CommandError, SystemExit)):
        call_command("run_pipeline", "filter", "--min-ifd", "0.5", "--keep-top", "0.2")


def test_pipeline_api_is_for_admins_only(anon_api, reviewer_api):
    assert anon_api.post("/api/v1/pipeline/score/", {}).status_code == 401
    assert reviewer_api.post("/api/v1/pipeline/score/", {}).status_code == 403
    assert reviewer_api.post("/api/v1/pipeline/filter/", {}).status_code == 403


def test_pipeline_api_starts_jobs(admin_api, candidates, model_path, run_on_commit):
    response = run_on_commit(
        admin_api.post, path="/api/v1/pipeline/score/", data={"model": model_path}, format="json"
    )
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.kind, job.status, job.done) == ("score", "succeeded", 5)
    bad = admin_api.post(
        "/api/v1/pipeline/filter/", {"min_ifd": 0.2, "keep_top": 0.3}, format="json"
    )
    assert bad.status_code == 400
    ok = run_on_commit(
        admin_api.post, path="/api/v1/pipeline/filter/", data={"keep_top": 0.4}, format="json"
    )
    assert ok.status_code == 202
    assert Item.objects.filter(status=Status.IN_REVIEW).count() <= 2
