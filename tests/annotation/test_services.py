import pytest
from django.core.exceptions import ValidationError

from annotation.errors import DuplicateContent, StaleEdit
from annotation.lifecycle import ALLOWED_TRANSITIONS, InvalidTransition
from annotation.models import Item, ItemRevision, Status
from annotation.services import item_change_status, item_edit, items_change_status
from tests.factories import make_item

pytestmark = pytest.mark.django_db


# Sorted: a frozenset's order changes between processes, and xdist workers must collect
# the same tests.
ALLOWED = [
    (current, target)
    for current in Status.values
    for target in sorted(ALLOWED_TRANSITIONS[current])
]
FORBIDDEN = [
    (current, target)
    for current in Status.values
    for target in Status.values
    if target not in ALLOWED_TRANSITIONS[current]
]


def test_the_transition_tests_cover_every_pair_of_statuses():
    # 9 statuses: 81 pairs, 15 allowed by SPEC §2 and 66 forbidden, all of them tested.
    assert (len(ALLOWED), len(FORBIDDEN)) == (15, 66)
    assert set(ALLOWED) | set(FORBIDDEN) == {(a, b) for a in Status.values for b in Status.values}


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_every_allowed_transition_is_recorded_with_who_and_why(current, target, admin_user):
    item = make_item(status=current, categorization="person")
    moved = item_change_status(item_id=item.pk, status=target, user=admin_user, reason="why")
    assert (moved.status, moved.version, moved.status_reason) == (target, 2, "why")
    moved.refresh_from_db()
    assert (moved.status, moved.version) == (target, 2)
    revision = ItemRevision.objects.get(item=item)
    assert (revision.field, revision.old_value, revision.new_value) == ("status", current, target)
    assert revision.user == admin_user and revision.version == 2 and revision.reason == "why"


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
def test_forbidden_transitions_are_refused_and_change_nothing(current, target, admin_user):
    item = make_item(status=current, categorization="person")
    with pytest.raises(InvalidTransition):
        item_change_status(item_id=item.pk, status=target, user=admin_user)
    item.refresh_from_db()
    assert (item.status, item.version) == (current, 1)
    assert not ItemRevision.objects.exists()


def test_bulk_transition_is_all_or_nothing(admin_user):
    ok = [make_item(status=Status.SCORED) for _ in range(3)]
    seed = make_item(status=Status.SEED, output="")
    with pytest.raises(InvalidTransition):
        items_change_status(
            item_ids=[i.pk for i in ok] + [seed.pk], status=Status.IN_REVIEW, user=admin_user
        )
    assert Item.objects.filter(status=Status.IN_REVIEW).count() == 0
    moved = items_change_status(
        item_ids=[i.pk for i in ok], status=Status.IN_REVIEW, user=admin_user
    )
    assert moved == 3
    assert set(
        Item.objects.filter(pk__in=[i.pk for i in ok]).values_list("version", flat=True)
    ) == {2}
    assert ItemRevision.objects.filter(field="status", new_value="in_review").count() == 3


def test_edit_records_each_field_and_bumps_the_version_once(reviewer_user):
    item = make_item(status=Status.IN_REVIEW)
    edited = item_edit(
        item_id=item.pk,
        user=reviewer_user,
        version=1,
        changes={"output": "  新的回答\r\n", "categorization": "social"},
    )
    assert edited.version == 2
    assert edited.output == "  新的回答\r\n"  # stored exactly as typed
    fields = set(ItemRevision.objects.filter(item=item).values_list("field", flat=True))
    assert fields == {"output", "categorization"}


def test_stale_edit_is_refused_and_nothing_is_lost(reviewer_user):
    item = make_item(status=Status.IN_REVIEW)
    item_edit(item_id=item.pk, user=reviewer_user, version=1, changes={"output": "第一次修改"})
    with pytest.raises(StaleEdit):
        item_edit(item_id=item.pk, user=reviewer_user, version=1, changes={"output": "过期的修改"})
    item.refresh_from_db()
    assert item.output == "第一次修改"


def test_edit_that_duplicates_another_item_names_it(reviewer_user):
    other = make_item(instruction="甲", output="乙")
    item = make_item(instruction="丙", output="丁")
    with pytest.raises(DuplicateContent) as excinfo:
        item_edit(
            item_id=item.pk,
            user=reviewer_user,
            version=1,
            changes={"instruction": " 甲", "output": "乙\r\n"},
        )
    assert excinfo.value.other_id == other.pk
    assert str(other.pk) in str(excinfo.value)


def test_edit_cannot_empty_the_instruction(reviewer_user):
    item = make_item()
    with pytest.raises(ValidationError):
        item_edit(item_id=item.pk, user=reviewer_user, version=1, changes={"instruction": "  "})


def test_translation_keeps_the_english_beside_the_chinese(admin_user):
    from annotation.services import item_apply_translation

    item = make_item(
        instruction="How do I recycle batteries?",
        output="Take them to a collection point.",
        source="translated",
        status=Status.PENDING_TRANSLATION,
    )
    translated = item_apply_translation(
        item_id=item.pk, instruction="电池怎么回收？", output="送到回收点。", user=admin_user
    )
    assert (translated.status, translated.version) == (Status.CANDIDATE, 2)
    assert translated.origin["en_instruction"] == "How do I recycle batteries?"
    assert translated.origin["en_output"] == "Take them to a collection point."
    changed = set(ItemRevision.objects.filter(item=item).values_list("field", flat=True))
    assert changed == {"instruction", "output", "status"}
