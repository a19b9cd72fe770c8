"""The review workspace's writes (SPEC §2, §7): claim, classify, skip and undo.

Accept, reject and edit live in services.items; all of them check the item's version
(StaleEdit) and its claim (ClaimedByOther), and renew the writer's claim.
"""

from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from ..errors import NothingToUndo, StaleEdit
from ..filters import ReviewQueueFilter, apply_filters
from ..models import (
    Categorization,
    Item,
    ItemRevision,
    ReviewDecision,
    ReviewSkip,
    SavedFilter,
    Status,
)
from ..selectors_review import review_progress_cache_key, review_queue, review_queue_skipped
from .claims import claim_check, claim_lease, claims_release, claims_renew
from .items import item_change_status, item_edit


def review_claim(
    *, reviewer, filters: Mapping | None = None, lease_seconds: int | None = None
) -> Item | None:
    """The item `reviewer` holds (its lease renewed), else the next one claimed for them.

    Next means the first free item in queue order (IFD high to low, unscored last), the
    items this reviewer skipped after all others; `filters` narrow the queue
    (selectors.review_queue). A free item is one nobody holds or whose claim expired. The
    row is taken with SELECT ... FOR UPDATE SKIP LOCKED, so concurrent reviewers never get
    the same item (SQLite, which has no row locks, serializes writers instead). A reviewer
    never holds two items: the claims of one reviewer (two tabs) are serialized on their
    user row, and the item_one_claim_per_reviewer constraint backs that up. Claiming leaves
    `version` alone. Returns None when the queue is empty.
    """
    lease = claim_lease(lease_seconds)
    with transaction.atomic():
        now = timezone.now()
        held_id = _claim_begin(reviewer_id=reviewer.pk, expires_at=now + lease)
        if held_id is not None:
            return Item.objects.get(pk=held_id)
        item = _lock_first(review_queue(reviewer=reviewer, filters=filters, now=now))
        if item is None:
            item = _lock_first(review_queue_skipped(reviewer=reviewer, filters=filters, now=now))
        if item is None:
            return None
        item.claimed_by = reviewer
        item.claim_expires_at = now + lease
        with _items_connection().cursor() as cursor:
            cursor.execute(
                f"UPDATE {Item._meta.db_table} SET claimed_by_id = %s, claim_expires_at = %s "
                "WHERE id = %s",
                [reviewer.pk, item.claim_expires_at, item.pk],
            )
        return item


def _items_connection():
    return connections[router.db_for_write(Item)]


def _claim_begin(*, reviewer_id: int, expires_at) -> int | None:
    """Start a claim: serialize it with the reviewer's other claims and renew the lease of
    the item they hold, if any (returned).

    Two tabs of one reviewer claiming at once would otherwise each take an item, or one would
    find every free item locked by the others and report an empty queue: their claims wait
    for each other on the reviewer's user row. A claim's commit does not wait for its WAL to
    reach the disk (PostgreSQL's synchronous_commit, for this transaction only): a claim lost
    in a server crash just returns the item to the queue, and the wait was most of a claim's
    time on slow disks. Decisions and edits keep the default and are durable when they answer.

    Plain statements, not querysets (here and for the claim's UPDATE): with the user lock,
    the held item and the UPDATE as querysets a claim took 6.0 ms of CPU in one process,
    4.9 ms like this (bench/review_load.py's decisions, 1M items).
    """
    user_table = get_user_model()._meta.db_table
    with _items_connection().cursor() as cursor:
        if cursor.db.vendor == "postgresql":
            cursor.execute("SET LOCAL synchronous_commit = off")
        if cursor.db.features.has_select_for_update:
            cursor.execute(f"SELECT 1 FROM {user_table} WHERE id = %s FOR UPDATE", [reviewer_id])
        cursor.execute(
            f"UPDATE {Item._meta.db_table} SET claim_expires_at = %s "
            "WHERE status = %s AND claimed_by_id = %s RETURNING id",
            [expires_at, Status.IN_REVIEW, reviewer_id],
        )
        held = cursor.fetchone()
    return held[0] if held else None


def _lock_first(queryset: QuerySet[Item]) -> Item | None:
    connection = _items_connection()
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset.first()


@transaction.atomic
def item_classify(*, item_id: int, user, version: int, categorization: str) -> Item:
    """Set the class (person, social or nation): an edit of `categorization`, one revision."""
    if categorization not in Categorization.values or not categorization:
        allowed = ", ".join(v for v in Categorization.values if v)
        raise ValidationError(
            {
                "categorization": gettext("%(value)r is not one of %(allowed)s")
                % {"value": categorization, "allowed": allowed}
            }
        )
    return item_edit(
        item_id=item_id, user=user, version=version, changes={"categorization": categorization}
    )


@transaction.atomic
def item_skip(*, item_id: int, reviewer, version: int | None = None) -> None:
    """Put the item at the back of this reviewer's queue and give back their claim on it.

    Raises StaleEdit (a version was given and is not current), ClaimedByOther, or
    ValidationError when the item is not in review.
    """
    item = Item.objects.select_for_update().get(pk=item_id)
    if version is not None and item.version != version:
        raise StaleEdit(item_id=item.pk, expected_version=version, current_version=item.version)
    claim_check(item=item, user=reviewer)
    if item.status != Status.IN_REVIEW:
        raise ValidationError(
            {
                "status": gettext("Only items in review can be skipped; this one is %(status)s.")
                % {"status": Status(item.status).label}
            }
        )
    now = timezone.now()
    if item.claimed_by_id == reviewer.pk:
        Item.objects.filter(pk=item.pk).update(claimed_by=None, claim_expires_at=None)
    ReviewSkip.objects.update_or_create(
        item_id=item.pk, reviewer=reviewer, defaults={"skipped_at": now}
    )
    claims_renew(user=reviewer)


@transaction.atomic
def item_undo(*, reviewer, item_id: int | None = None) -> Item:
    """Undo the reviewer's last decision (on `item_id`, when given): the item goes back to
    `in_review`, held by them, with the reviewer and status reason it had before; any other
    item they hold is released. Only while nobody changed the item since the decision
    (SPEC §2); raises NothingToUndo otherwise, or when there is no decision to undo.
    """
    decisions = ReviewDecision.objects.filter(reviewer=reviewer, undone_at__isnull=True)
    if item_id is not None:
        decisions = decisions.filter(item_id=item_id)
    decision = decisions.select_for_update().order_by("-id").first()
    if decision is None:
        raise NothingToUndo(item_id=item_id)
    item = Item.objects.select_for_update().get(pk=decision.item_id)
    if item.version != decision.version or item.status != decision.status:
        raise NothingToUndo(item_id=item.pk, changed_by=_last_writer(item_id=item.pk))
    claims_release(user=reviewer)
    item = item_change_status(
        item_id=item.pk, status=Status.IN_REVIEW, user=reviewer, reason="undo"
    )
    item.status_reason = (
        decision.previous_reason if decision.previous_status == Status.IN_REVIEW else ""
    )
    item.reviewer_id = decision.previous_reviewer_id
    item.reviewed_at = decision.previous_reviewed_at
    item.claimed_by = reviewer
    item.claim_expires_at = timezone.now() + claim_lease()
    item.save(
        update_fields=[
            "status_reason",
            "reviewer",
            "reviewed_at",
            "claimed_by",
            "claim_expires_at",
        ]
    )
    decision.undone_at = timezone.now()
    decision.save(update_fields=["undone_at"])
    transaction.on_commit(lambda: cache.delete(review_progress_cache_key(reviewer.pk)))
    return item


def _last_writer(*, item_id: int) -> str:
    revision = (
        ItemRevision.objects.filter(item_id=item_id).select_related("user").order_by("-id").first()
    )
    if revision is None or revision.user is None:
        return gettext("someone else")
    return revision.user.username


@transaction.atomic
def saved_filter_save(*, name: str, params: Mapping, owner=None) -> SavedFilter:
    """Save (or replace) a named queue filter; without an owner it is shared with everyone.

    `params` are the review queue's query parameters (selectors.review_queue); ones that do
    not parse raise InvalidFilters naming them, and nothing is saved.
    """
    if not name.strip():
        raise ValidationError({"name": gettext("Give the filter a name.")})
    longest = SavedFilter._meta.get_field("name").max_length
    if len(name.strip()) > longest:
        # Refused here: the column would refuse it with a database error (a 500 on the page).
        raise ValidationError(
            {"name": gettext("A filter name has at most %(n)d characters.") % {"n": longest}}
        )
    clean = {
        key: value
        for key, value in params.items()
        if key in ReviewQueueFilter.base_filters and value not in ("", None, [])
    }
    apply_filters(ReviewQueueFilter, Item.objects.none(), clean)
    saved, _ = SavedFilter.objects.update_or_create(
        owner=owner, name=name.strip(), defaults={"params": clean}
    )
    return saved
