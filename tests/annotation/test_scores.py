import pytest

from annotation.lifecycle import InvalidTransition
from annotation.models import Item, ItemRevision, Job, Status
from annotation.services import ScoreRecord, items_record_scores, job_create
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def record(ifd: float) -> ScoreRecord:
    return ScoreRecord(ifd=ifd, ifd_ppl=ifd * 2, details={"answer_tokens": 12})


def test_a_first_score_moves_a_candidate_to_scored_with_a_version_and_a_revision():
    job = job_create(kind=Job.Kind.SCORE, params={})
    item = make_item(status=Status.CANDIDATE)
    assert items_record_scores(results={item.pk: record(0.4)}, model="m", job=job) == 1
    item.refresh_from_db()
    assert (item.status, item.version, item.ifd, item.ifd_ppl, item.ifd_model) == (
        "scored",
        2,
        0.4,
        0.8,
        "m",
    )
    assert item.ifd_params == {"job_id": job.pk, "answer_tokens": 12}
    assert item.scored_at is not None
    revision = ItemRevision.objects.get(item=item)
    assert (revision.field, revision.old_value, revision.new_value, revision.version) == (
        "status",
        "candidate",
        "scored",
        2,
    )
    assert revision.job == job and revision.reason == "scored with m"


def test_a_rescore_keeps_the_status_and_version_and_records_the_old_score():
    item = make_item(status=Status.SCORED, ifd=0.7, ifd_model="old")
    items_record_scores(results={item.pk: record(0.3)}, model="new")
    item.refresh_from_db()
    assert (item.status, item.version, item.ifd, item.ifd_model) == ("scored", 1, 0.3, "new")
    revision = ItemRevision.objects.get(item=item)
    assert (revision.field, revision.old_value, revision.new_value) == (
        "ifd",
        "0.7 (old)",
        "0.3 (new)",
    )


@pytest.mark.parametrize(
    "status", [s for s in Status.values if s not in (Status.CANDIDATE, Status.SCORED)]
)
def test_items_past_scoring_are_refused_and_nothing_of_the_chunk_is_written(status):
    fine = make_item(status=Status.CANDIDATE)
    late = make_item(status=status, categorization="person", ifd=0.5)
    with pytest.raises(InvalidTransition):
        items_record_scores(results={fine.pk: record(0.1), late.pk: record(0.2)}, model="m")
    fine.refresh_from_db()
    late.refresh_from_db()
    assert (fine.status, fine.ifd, late.status, late.ifd) == ("candidate", None, status, 0.5)
    assert not ItemRevision.objects.exists()


def test_items_that_left_the_allowed_set_while_the_model_ran_are_skipped():
    stays = make_item(status=Status.CANDIDATE)
    moved_on = make_item(status=Status.IN_REVIEW)
    written = items_record_scores(
        results={stays.pk: record(0.1), moved_on.pk: record(0.2)},
        model="m",
        among=Item.objects.filter(status=Status.CANDIDATE),
    )
    assert written == 1
    moved_on.refresh_from_db()
    assert (moved_on.status, moved_on.ifd, moved_on.version) == ("in_review", None, 1)
