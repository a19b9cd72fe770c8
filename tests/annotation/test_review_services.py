"""The review services (SPEC §2, §7): claim, accept, reject, classify, skip, undo, edit."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotation.errors import ClaimedByOther, NothingToUndo, StaleEdit
from annotation.lifecycle import InvalidTransition
from annotation.models import Item, ItemRevision, ReviewSkip, SavedFilter, Status
from annotation.selectors import item_history, review_progress
from annotation.services import (
    item_accept,
    item_classify,
    item_edit,
    item_reject,
    item_skip,
    item_undo,
    review_claim,
)
from tests.factories import make_item, make_user

pytestmark = pytest.mark.django_db


def in_review(**fields) -> Item:
    return make_item(status=Status.IN_REVIEW, **fields)


def fresh(item: Item) -> Item:
    return Item.objects.get(pk=item.pk)


# --- item_accept ------------------------------------------------------------------------------


def test_accept_with_a_class_records_the_reviewer_and_the_class(reviewer_user):
    item = in_review()
    accepted = item_accept(
        item_id=item.pk, reviewer=reviewer_user, version=1, categorization="nation"
    )
    item = fresh(item)
    assert (item.status, item.categorization, item.version) == ("accepted", "nation", 3)
    assert accepted.version == item.version
    assert item.reviewer == reviewer_user and item.reviewed_at is not None
    fields = list(ItemRevision.objects.filter(item=item).values_list("field", "new_value"))
    assert fields == [("categorization", "nation"), ("status", "accepted")]


def test_accept_uses_the_class_set_before(reviewer_user):
    item = in_review(categorization="social")
    item_accept(item_id=item.pk, reviewer=reviewer_user, version=1)
    assert (fresh(item).status, fresh(item).version) == ("accepted", 2)


def test_accept_without_any_class_is_refused_and_writes_nothing(reviewer_user):
    item = in_review()
    with pytest.raises(ValidationError) as excinfo:
        item_accept(item_id=item.pk, reviewer=reviewer_user, version=1)
    assert "categorization" in excinfo.value.message_dict
    assert (fresh(item).status, fresh(item).version) == ("in_review", 1)
    assert not ItemRevision.objects.exists()


def test_accept_of_a_stale_version_is_refused(reviewer_user):
    item = in_review(categorization="person")
    item_edit(item_id=item.pk, user=reviewer_user, version=1, changes={"output": "改过的回答"})
    with pytest.raises(StaleEdit):
        item_accept(item_id=item.pk, reviewer=reviewer_user, version=1)
    assert fresh(item).status == "in_review"


def test_accept_of_an_item_another_reviewer_holds_is_refused(reviewer_user):
    holder = make_user(role="reviewer")
    item = in_review(categorization="person")
    assert review_claim(reviewer=holder).pk == item.pk
    with pytest.raises(ClaimedByOther) as excinfo:
        item_accept(item_id=item.pk, reviewer=reviewer_user, version=1)
    assert excinfo.value.holder == holder.username and excinfo.value.item_id == item.pk
    assert holder.username in str(excinfo.value)
    assert fresh(item).status == "in_review"


def test_accept_releases_the_claim_and_needs_an_item_in_review(reviewer_user):
    item = in_review(categorization="person")
    review_claim(reviewer=reviewer_user)
    item_accept(item_id=item.pk, reviewer=reviewer_user, version=1)
    item = fresh(item)
    assert item.claimed_by is None and item.claim_expires_at is None
    with pytest.raises(InvalidTransition):
        item_accept(item_id=item.pk, reviewer=reviewer_user, version=item.version)


def test_accept_after_the_holders_lease_expired_is_allowed(reviewer_user):
    holder = make_user(role="reviewer")
    item = in_review(categorization="person")
    review_claim(reviewer=holder)
    Item.objects.filter(pk=item.pk).update(claim_expires_at=timezone.now() - timedelta(seconds=1))
    item_accept(item_id=item.pk, reviewer=reviewer_user, version=1)
    assert fresh(item).reviewer == reviewer_user


# --- item_reject ------------------------------------------------------------------------------


def test_reject_records_the_reason(reviewer_user):
    item = in_review()
    rejected = item_reject(item_id=item.pk, reviewer=reviewer_user, version=1, reason="harmful")
    item = fresh(item)
    assert (item.status, item.status_reason, item.version) == ("rejected", "harmful", 2)
    assert rejected.reviewer == reviewer_user
    revision = ItemRevision.objects.get(item=item)
    assert (revision.new_value, revision.reason, revision.user) == (
        "rejected",
        "harmful",
        reviewer_user,
    )


@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_without_a_reason_is_refused(reviewer_user, reason):
    item = in_review()
    with pytest.raises(ValidationError) as excinfo:
        item_reject(item_id=item.pk, reviewer=reviewer_user, version=1, reason=reason)
    assert "reason" in excinfo.value.message_dict
    assert fresh(item).status == "in_review"


def test_reject_of_a_stale_version_or_another_reviewers_item_is_refused(reviewer_user):
    item = in_review()
    with pytest.raises(StaleEdit):
        item_reject(item_id=item.pk, reviewer=reviewer_user, version=7, reason="wrong")
    holder = make_user(role="reviewer")
    review_claim(reviewer=holder)
    with pytest.raises(ClaimedByOther):
        item_reject(item_id=item.pk, reviewer=reviewer_user, version=1, reason="wrong")
    assert (fresh(item).status, fresh(item).version) == ("in_review", 1)


# --- review_claim -----------------------------------------------------------------------------


def test_claim_serves_ifd_high_to_low_and_unscored_items_last(reviewer_user):
    unscored = in_review()
    low = in_review(ifd=0.2)
    high = in_review(ifd=0.9)
    make_item(status=Status.SCORED, ifd=0.99)  # not in review
    order = []
    for _ in range(3):
        item = review_claim(reviewer=reviewer_user)
        order.append(item.pk)
        item_reject(item_id=item.pk, reviewer=reviewer_user, version=item.version, reason="x")
    assert order == [high.pk, low.pk, unscored.pk]
    assert review_claim(reviewer=reviewer_user) is None


def test_claiming_again_returns_the_held_item_renews_it_and_keeps_the_version(reviewer_user):
    in_review(ifd=0.5)
    in_review(ifd=0.4)
    first = review_claim(reviewer=reviewer_user, lease_seconds=60)
    again = review_claim(reviewer=reviewer_user, lease_seconds=600)
    assert again.pk == first.pk
    assert again.claim_expires_at > first.claim_expires_at
    held = fresh(first)
    assert (held.claimed_by, held.version) == (reviewer_user, 1)
    assert Item.objects.filter(claimed_by=reviewer_user).count() == 1


def test_two_reviewers_get_different_items_and_an_expired_claim_returns_to_the_queue(
    reviewer_user,
):
    other = make_user(role="reviewer")
    only = in_review(ifd=0.5)
    assert review_claim(reviewer=reviewer_user).pk == only.pk
    assert review_claim(reviewer=other) is None
    Item.objects.filter(pk=only.pk).update(claim_expires_at=timezone.now() - timedelta(seconds=1))
    assert review_claim(reviewer=other).pk == only.pk
    assert fresh(only).claimed_by == other
    # The first reviewer lost it: their next claim finds nothing, and writes are refused.
    assert review_claim(reviewer=reviewer_user) is None
    with pytest.raises(ClaimedByOther):
        item_classify(item_id=only.pk, user=reviewer_user, version=1, categorization="person")


def test_claim_filters_by_source_harm_category_flag_and_saved_filter(reviewer_user):
    manual = in_review(ifd=0.9)
    translated = in_review(
        ifd=0.5, source="translated", origin={"harm_categories": ["Violence", "Privacy"]}
    )
    flagged = in_review(ifd=0.4, flags=["length_ratio"])

    def claim_and_release(**filters):
        item = review_claim(reviewer=reviewer_user, filters=filters)
        if item is not None:
            Item.objects.filter(pk=item.pk).update(claimed_by=None, claim_expires_at=None)
        return item and item.pk

    assert claim_and_release(source="translated") == translated.pk
    assert claim_and_release(source="manual,translated") == manual.pk
    assert claim_and_release(harm_category="Privacy") == translated.pk
    assert claim_and_release(harm_category="Drugs") is None
    assert claim_and_release(flag="length_ratio") == flagged.pk
    mine = SavedFilter.objects.create(
        name="翻译", owner=reviewer_user, params={"source": "translated"}
    )
    shared = SavedFilter.objects.create(name="flagged", params={"flag": ["length_ratio"]})
    someone_elses = SavedFilter.objects.create(
        name="x", owner=make_user(role="reviewer"), params={"source": "manual"}
    )
    assert claim_and_release(saved_filter=str(mine.pk)) == translated.pk
    assert claim_and_release(saved_filter=shared.pk) == flagged.pk
    # Given parameters win over the saved filter's.
    assert claim_and_release(saved_filter=mine.pk, source="manual") == manual.pk
    from annotation.filters import InvalidFilters

    with pytest.raises(InvalidFilters) as excinfo:
        review_claim(reviewer=reviewer_user, filters={"saved_filter": someone_elses.pk})
    assert "saved_filter" in excinfo.value.errors
    with pytest.raises(InvalidFilters) as excinfo:
        review_claim(reviewer=reviewer_user, filters={"source": "nowhere"})
    assert "source" in excinfo.value.errors


def test_held_item_is_returned_whatever_the_filters(reviewer_user):
    manual = in_review(ifd=0.9)
    in_review(ifd=0.1, source="translated")
    assert review_claim(reviewer=reviewer_user).pk == manual.pk
    assert review_claim(reviewer=reviewer_user, filters={"source": "translated"}).pk == manual.pk


# --- item_skip --------------------------------------------------------------------------------


def test_skip_releases_the_item_and_sends_it_to_the_back_of_this_reviewers_queue(reviewer_user):
    other = make_user(role="reviewer")
    first = in_review(ifd=0.9)
    second = in_review(ifd=0.5)
    third = in_review()
    assert review_claim(reviewer=reviewer_user).pk == first.pk
    item_skip(item_id=first.pk, reviewer=reviewer_user, version=1)
    assert fresh(first).claimed_by is None and fresh(first).version == 1
    assert review_claim(reviewer=reviewer_user).pk == second.pk
    item_skip(item_id=second.pk, reviewer=reviewer_user)
    assert review_claim(reviewer=reviewer_user).pk == third.pk
    item_skip(item_id=third.pk, reviewer=reviewer_user)
    # Only skipped items are left: the one skipped longest ago comes first.
    assert review_claim(reviewer=reviewer_user).pk == first.pk
    # Another reviewer's queue is untouched by these skips.
    item_skip(item_id=first.pk, reviewer=reviewer_user)
    assert review_claim(reviewer=other).pk == first.pk
    assert ReviewSkip.objects.filter(reviewer=reviewer_user).count() == 3


def test_skip_is_refused_on_another_reviewers_item_and_on_a_stale_version(reviewer_user):
    holder = make_user(role="reviewer")
    item = in_review()
    review_claim(reviewer=holder)
    with pytest.raises(ClaimedByOther):
        item_skip(item_id=item.pk, reviewer=reviewer_user)
    with pytest.raises(StaleEdit):
        item_skip(item_id=item.pk, reviewer=holder, version=5)
    assert fresh(item).claimed_by == holder and not ReviewSkip.objects.exists()


# --- item_classify and item_edit --------------------------------------------------------------


def test_classify_sets_the_class_as_one_revision(reviewer_user):
    item = in_review()
    classified = item_classify(
        item_id=item.pk, user=reviewer_user, version=1, categorization="social"
    )
    assert (classified.categorization, classified.version) == ("social", 2)
    revision = ItemRevision.objects.get(item=item)
    assert (revision.field, revision.old_value, revision.new_value) == (
        "categorization",
        "",
        "social",
    )


@pytest.mark.parametrize("value", ["", "family"])
def test_classify_refuses_anything_but_the_three_classes(reviewer_user, value):
    item = in_review()
    with pytest.raises(ValidationError):
        item_classify(item_id=item.pk, user=reviewer_user, version=1, categorization=value)
    assert fresh(item).version == 1


@pytest.mark.parametrize("write", ["classify", "edit", "accept", "reject"])
def test_a_write_without_the_version_it_was_made_on_is_refused(reviewer_user, write):
    item = in_review(categorization="person")
    calls = {
        "classify": lambda: item_classify(
            item_id=item.pk, user=reviewer_user, version=None, categorization="social"
        ),
        "edit": lambda: item_edit(
            item_id=item.pk, user=reviewer_user, version=None, changes={"output": "新的回答"}
        ),
        "accept": lambda: item_accept(item_id=item.pk, reviewer=reviewer_user, version=None),
        "reject": lambda: item_reject(
            item_id=item.pk, reviewer=reviewer_user, version=None, reason="wrong"
        ),
    }
    with pytest.raises(ValidationError) as refused:
        calls[write]()
    assert "version" in refused.value.message_dict
    assert fresh(item).version == 1 and fresh(item).status == Status.IN_REVIEW


def test_classify_then_accept_each_with_the_version_the_previous_returned(reviewer_user):
    review_item = in_review()
    item = review_claim(reviewer=reviewer_user)
    item = item_classify(
        item_id=item.pk, user=reviewer_user, version=item.version, categorization="person"
    )
    item = item_accept(item_id=item.pk, reviewer=reviewer_user, version=item.version)
    assert (fresh(review_item).status, item.version) == ("accepted", 3)


def test_edit_of_an_item_another_reviewer_holds_is_refused_but_the_holder_may(reviewer_user):
    holder = make_user(role="reviewer")
    item = in_review()
    claimed = review_claim(reviewer=holder, lease_seconds=30)
    with pytest.raises(ClaimedByOther):
        item_edit(item_id=item.pk, user=reviewer_user, version=1, changes={"output": "别人的"})
    edited = item_edit(item_id=item.pk, user=holder, version=1, changes={"output": "我的修改"})
    assert edited.output == "我的修改"
    # The holder's write renewed their lease (the default lease is longer than 30 s).
    assert fresh(item).claim_expires_at > claimed.claim_expires_at


# --- item_undo --------------------------------------------------------------------------------


def test_undo_brings_the_item_back_held_by_the_reviewer_and_releases_the_one_held(
    reviewer_user,
):
    first = in_review(ifd=0.9, categorization="person")
    second = in_review(ifd=0.5)
    item = review_claim(reviewer=reviewer_user)
    item_accept(item_id=item.pk, reviewer=reviewer_user, version=item.version)
    assert review_claim(reviewer=reviewer_user).pk == second.pk
    undone = item_undo(reviewer=reviewer_user)
    assert undone.pk == first.pk
    first, second = fresh(first), fresh(second)
    assert (first.status, first.claimed_by, first.reviewer) == ("in_review", reviewer_user, None)
    assert first.version == 3 and undone.version == 3
    assert second.claimed_by is None
    assert review_claim(reviewer=reviewer_user).pk == first.pk
    revisions = list(
        ItemRevision.objects.filter(item=first, field="status").values_list("new_value", flat=True)
    )
    assert revisions == ["accepted", "in_review"]


def test_undo_walks_back_through_decisions_and_then_has_nothing_left(reviewer_user):
    first = in_review(ifd=0.9)
    second = in_review(ifd=0.5)
    item_reject(item_id=first.pk, reviewer=reviewer_user, version=1, reason="wrong")
    item_reject(item_id=second.pk, reviewer=reviewer_user, version=1, reason="harmful")
    assert item_undo(reviewer=reviewer_user).pk == second.pk
    assert item_undo(reviewer=reviewer_user).pk == first.pk
    # The second undo released the item the first one gave back.
    assert fresh(second).claimed_by is None and fresh(first).claimed_by == reviewer_user
    with pytest.raises(NothingToUndo):
        item_undo(reviewer=reviewer_user)


def test_undo_is_refused_when_someone_changed_the_item_since(reviewer_user, admin_user):
    item = in_review(categorization="nation")
    item_accept(item_id=item.pk, reviewer=reviewer_user, version=1)
    item_edit(item_id=item.pk, user=admin_user, version=2, changes={"output": "管理员修改"})
    with pytest.raises(NothingToUndo) as excinfo:
        item_undo(reviewer=reviewer_user, item_id=item.pk)
    assert excinfo.value.changed_by == admin_user.username
    assert admin_user.username in str(excinfo.value)
    assert fresh(item).status == "accepted"


def test_undo_of_an_item_is_only_the_reviewers_own_decision(reviewer_user):
    other = make_user(role="reviewer")
    item = in_review()
    item_reject(item_id=item.pk, reviewer=other, version=1, reason="wrong")
    with pytest.raises(NothingToUndo):
        item_undo(reviewer=reviewer_user, item_id=item.pk)
    assert item_undo(reviewer=other, item_id=item.pk).status == "in_review"


# --- selectors --------------------------------------------------------------------------------


def test_progress_counts_decisions_not_undone_and_the_queue_left(
    reviewer_user, django_capture_on_commit_callbacks
):
    items = [in_review(categorization="person") for _ in range(4)]
    assert review_progress(reviewer=reviewer_user) == {"today": 0, "week": 0, "queue_left": 4}
    # Decisions clear the reviewer's cached counts once they commit.
    with django_capture_on_commit_callbacks(execute=True):
        for item in items[:3]:
            item_accept(item_id=item.pk, reviewer=reviewer_user, version=1)
        item_undo(reviewer=reviewer_user)
    progress = review_progress(reviewer=reviewer_user)
    assert (progress["today"], progress["week"]) == (2, 2)
    # queue_left may be cached for up to 30 s; a fresh count shows two left.
    from django.core.cache import cache

    cache.clear()
    assert review_progress(reviewer=reviewer_user)["queue_left"] == 2


def test_a_decision_counts_itself_in_the_cached_progress_without_counting_again(
    reviewer_user, django_capture_on_commit_callbacks, django_assert_num_queries
):
    first, second = in_review(categorization="person"), in_review(categorization="social")
    item_accept(item_id=first.pk, reviewer=reviewer_user, version=1)
    assert review_progress(reviewer=reviewer_user)["today"] == 1  # counted, then cached
    with django_capture_on_commit_callbacks(execute=True):
        item_reject(item_id=second.pk, reviewer=reviewer_user, version=1, reason="wrong")
    with django_assert_num_queries(0):
        progress = review_progress(reviewer=reviewer_user)
    assert (progress["today"], progress["week"]) == (2, 2)


def test_item_history_lists_every_change_oldest_first(reviewer_user):
    item = in_review()
    item_classify(item_id=item.pk, user=reviewer_user, version=1, categorization="social")
    item_reject(item_id=item.pk, reviewer=reviewer_user, version=2, reason="wrong")
    history = list(item_history(item_id=item.pk))
    assert [(r.field, r.new_value, r.user) for r in history] == [
        ("categorization", "social", reviewer_user),
        ("status", "rejected", reviewer_user),
    ]


def test_the_claim_reads_the_queue_in_the_order_of_its_partial_index(reviewer_user):
    from django.db import connection, transaction

    from annotation.selectors import review_queue

    in_review(ifd=0.5)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the table here is tiny
        cursor.execute("SET LOCAL enable_sort = off")
        queryset = review_queue(reviewer=reviewer_user).select_for_update(
            skip_locked=True, of=("self",)
        )[:1]
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "item_review_queue" in plan, plan
    assert "Sort" not in plan, plan


def test_a_saved_filter_keeps_only_queue_parameters_and_refuses_bad_ones(reviewer_user):
    from annotation.filters import InvalidFilters
    from annotation.services import saved_filter_save

    saved = saved_filter_save(
        name=" 翻译 ", owner=reviewer_user, params={"source": "translated", "q": "x", "flag": ""}
    )
    assert (saved.name, saved.params) == ("翻译", {"source": "translated"})
    again = saved_filter_save(name="翻译", owner=reviewer_user, params={"flag": "length_ratio"})
    assert again.pk == saved.pk and again.params == {"flag": "length_ratio"}
    with pytest.raises(InvalidFilters):
        saved_filter_save(name="bad", params={"source": "elsewhere"})
    assert not SavedFilter.objects.filter(name="bad").exists()
