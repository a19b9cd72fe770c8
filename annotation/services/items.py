"""Writes to items: status changes and edits, each recorded as revisions (SPEC §2)."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from ..errors import DuplicateContent, StaleEdit
from ..hashing import VAD_FIELDS, content_hash
from ..lifecycle import check_transition
from ..models import (
    STATUSES_WITHOUT_OUTPUT,
    Categorization,
    Item,
    ItemRevision,
    Job,
    ReviewDecision,
    Source,
    Status,
)
from ..selectors_review import review_progress_count_decision
from .claims import claim_check, claim_is_live, claim_lease, claims_renew

EDITABLE_FIELDS = frozenset(VAD_FIELDS)


def item_content_hash(item: Item) -> str:
    return content_hash(**{field: getattr(item, field) for field in VAD_FIELDS})


def status_revision(
    *, item_id: int, version: int, old: str, new: str, user, reason: str, job_id: int | None
) -> ItemRevision:
    """The revision that records one status change (unsaved; callers write them in bulk)."""
    return ItemRevision(
        item_id=item_id,
        version=version,
        field=ItemRevision.Field.STATUS,
        old_value=old,
        new_value=new,
        reason=reason,
        user=user,
        job_id=job_id,
    )


@transaction.atomic
def item_change_status(
    *, item_id: int, status: str, user=None, reason: str = "", job: Job | None = None
) -> Item:
    item = Item.objects.select_for_update().get(pk=item_id)
    check_transition(item_id=item.pk, current=item.status, target=status)
    revision = status_revision(
        item_id=item.pk,
        version=item.version + 1,
        old=item.status,
        new=status,
        user=user,
        reason=reason,
        job_id=job.pk if job else None,
    )
    item.status = status
    item.status_reason = reason
    item.version += 1
    # A status change ends any review claim (undo then sets the one it means).
    item.claimed_by = None
    item.claim_expires_at = None
    item.save(
        update_fields=[
            "status",
            "status_reason",
            "version",
            "claimed_by",
            "claim_expires_at",
            "updated_at",
        ]
    )
    revision.save()
    return item


@transaction.atomic
def items_change_status(
    *,
    item_ids: Iterable[int],
    status: str,
    user=None,
    reason: str = "",
    job: Job | None = None,
    batch_size: int = 5000,
) -> int:
    """Move many items at once: every transition is checked, then each batch is one UPDATE
    that writes the revisions in the same statement (PostgreSQL; elsewhere an UPDATE and a
    bulk insert). Raises InvalidTransition (and writes nothing) if any item may not take the
    new status. The text and its search keys are not touched.
    """
    ids = list(item_ids)
    now = timezone.now()
    moved = 0
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        rows = list(
            Item.objects.select_for_update()
            .filter(pk__in=chunk)
            .order_by("pk")
            .values_list("pk", "status", "version")
        )
        for pk, current, _version in rows:
            check_transition(item_id=pk, current=current, target=status)
        revision = {"reason": reason, "user": user, "job": job, "at": now}
        if connection.vendor == "postgresql":
            _move_with_revisions(rows, status=status, **revision)
        else:
            Item.objects.filter(pk__in=[r[0] for r in rows]).update(
                status=status,
                status_reason=reason,
                version=F("version") + 1,
                claimed_by=None,
                claim_expires_at=None,
                updated_at=now,
            )
            ItemRevision.objects.bulk_create(
                status_revision(
                    item_id=pk,
                    version=version + 1,
                    old=current,
                    new=status,
                    user=user,
                    reason=reason,
                    job_id=job.pk if job else None,
                )
                for pk, current, version in rows
            )
        moved += len(rows)
    return moved


def _move_with_revisions(rows: list[tuple], *, status: str, reason: str, user, job, at) -> None:
    """One statement: UPDATE the items (locked by the caller) and INSERT their revisions
    from its RETURNING rows. Against an UPDATE and bulk_create of the revisions, whose
    objects cost ~40 us each in Python: 83,400 items went to review at 3,200 items/s that
    way on the bench (items of ~790 bytes)."""
    item_table, revision_table = Item._meta.db_table, ItemRevision._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH old (id, status) AS (SELECT * FROM unnest(%(ids)s::bigint[], %(old)s::text[])),
            moved AS (
                UPDATE {item_table} AS item
                SET status = %(status)s, status_reason = %(reason)s,
                    version = item.version + 1, updated_at = %(at)s,
                    claimed_by_id = NULL, claim_expires_at = NULL
                FROM old WHERE item.id = old.id
                RETURNING item.id, item.version, old.status
            )
            INSERT INTO {revision_table}
                (item_id, version, field, old_value, new_value, reason, user_id, job_id,
                 created_at)
            SELECT id, version, %(field)s, status, %(status)s, %(reason)s, %(user)s, %(job)s,
                   %(at)s
            FROM moved
            """,
            {
                "ids": [row[0] for row in rows],
                "old": [row[1] for row in rows],
                "status": status,
                "reason": reason,
                "at": at,
                "field": ItemRevision.Field.STATUS,
                "user": user.pk if user is not None else None,
                "job": job.pk if job is not None else None,
            },
        )


def refuse_duplicate_content(*, item_id: int | None, digest: str) -> None:
    """Raise DuplicateContent naming another item that already has this content hash."""
    other_id = (
        Item.objects.filter(content_hash=digest).exclude(pk=item_id).values_list("pk", flat=True)
    ).first()
    if other_id is not None:
        raise DuplicateContent(item_id=item_id, other_id=other_id)


def _validate_edit(item: Item) -> None:
    errors: dict[str, str] = {}
    if not item.instruction.strip():
        errors["instruction"] = "must not be empty"
    if item.status not in STATUSES_WITHOUT_OUTPUT and not item.output.strip():
        errors["output"] = "must not be empty"
    if item.source not in Source.values:
        errors["source"] = f"{item.source!r} is not one of {', '.join(Source.values)}"
    if item.categorization not in Categorization.values:
        allowed = ", ".join(v for v in Categorization.values if v)
        errors["categorization"] = f"{item.categorization!r} is not one of {allowed}"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def item_edit(
    *, item_id: int, user, version: int, changes: dict[str, str], reason: str = ""
) -> Item:
    """Change some of the five VAD fields; refuses stale versions and duplicates of others.

    Raises StaleEdit, ClaimedByOther (another reviewer holds the item), DuplicateContent or
    ValidationError, and writes nothing then; renews the editor's claim otherwise.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError({field: "cannot be edited" for field in sorted(unknown)})
    item = _lock_for_write(item_id=item_id, user=user, version=version)
    changed = {f: v for f, v in changes.items() if getattr(item, f) != v}
    if not changed:
        claims_renew(user=user)
        return item
    old_values = {f: getattr(item, f) for f in changed}
    for field, value in changed.items():
        setattr(item, field, value)
    _validate_edit(item)
    new_hash = item_content_hash(item)
    refuse_duplicate_content(item_id=item.pk, digest=new_hash)
    item.version += 1
    item.content_hash = new_hash
    update_fields = [*changed, "content_hash", "version", "updated_at"]
    held_it = claim_is_live(item) and item.claimed_by_id == user.pk
    if held_it:  # the edit renews the editor's claim in the same UPDATE
        item.claim_expires_at = timezone.now() + claim_lease()
        update_fields.append("claim_expires_at")
    item.save(update_fields=update_fields)
    ItemRevision.objects.bulk_create(
        _field_revisions(
            item=item, old_values=old_values, changes=changed, user=user, reason=reason
        )
    )
    if not held_it:
        claims_renew(user=user)
    return item


def _field_revisions(
    *, item: Item, old_values: dict[str, str], changes: dict[str, str], user, reason: str = ""
) -> list[ItemRevision]:
    """One unsaved revision per changed field, at the item's (already bumped) version."""
    return [
        ItemRevision(
            item=item,
            version=item.version,
            field=field,
            old_value=old_values[field],
            new_value=value,
            reason=reason,
            user=user,
        )
        for field, value in changes.items()
    ]


def _lock_for_write(*, item_id: int, user, version: int) -> Item:
    """The item, locked, after the checks every write makes: its version and the claim (only
    its holder may change an item someone holds)."""
    if not isinstance(version, int):
        # Every write carries the version its author last saw (SPEC §7.1): without one, a
        # stale write could not be told from a fresh one.
        raise ValidationError({"version": gettext("say which version of the item you changed")})
    item = Item.objects.select_for_update().get(pk=item_id)
    if item.version != version:
        raise StaleEdit(item_id=item.pk, expected_version=version, current_version=item.version)
    claim_check(item=item, user=user)
    return item


@transaction.atomic
def item_accept(*, item_id: int, reviewer, version: int, categorization: str = "") -> Item:
    """Approve an item in review; it needs a class, given here or set before.

    Raises StaleEdit, ClaimedByOther, InvalidTransition (not in review), DuplicateContent
    (the new class makes it another item's twin) or ValidationError (no class), and writes
    nothing then. A new class is a revision of its own (version + 1) before the status one
    (+ 1). The decision can be undone by its reviewer (services.item_undo).
    """
    item = _lock_for_write(item_id=item_id, user=reviewer, version=version)
    check_transition(item_id=item.pk, current=item.status, target=Status.ACCEPTED)
    changes = {}
    if categorization and categorization != item.categorization:
        changes["categorization"] = categorization
    elif not item.categorization:
        raise ValidationError(
            {"categorization": gettext("Choose person, social or nation before accepting.")}
        )
    return _decide(item=item, reviewer=reviewer, status=Status.ACCEPTED, changes=changes)


@transaction.atomic
def item_reject(*, item_id: int, reviewer, version: int, reason: str) -> Item:
    """Refuse an item, saying why (see annotation.review_reasons); undoable like accept.

    Raises StaleEdit, ClaimedByOther, InvalidTransition or ValidationError (no reason).
    """
    item = _lock_for_write(item_id=item_id, user=reviewer, version=version)
    check_transition(item_id=item.pk, current=item.status, target=Status.REJECTED)
    if not (reason or "").strip():
        raise ValidationError({"reason": gettext("Say why the item is rejected.")})
    return _decide(item=item, reviewer=reviewer, status=Status.REJECTED, reason=reason)


def _decide(
    *, item: Item, reviewer, status: str, reason: str = "", changes: dict[str, str] | None = None
) -> Item:
    """Write a decision (and the field changes that come with it) as one UPDATE of the item,
    its revisions and the ReviewDecision that undo reads: a decision is the hot path of
    review, so it costs a handful of statements, not one per step."""
    now = timezone.now()
    held_it = item.claimed_by_id == reviewer.pk
    decision = ReviewDecision(
        item_id=item.pk,
        reviewer=reviewer,
        status=status,
        previous_status=item.status,
        previous_reason=item.status_reason,
        previous_reviewer_id=item.reviewer_id,
        previous_reviewed_at=item.reviewed_at,
    )
    revisions = []
    fields = ["status", "status_reason", "version", "reviewer", "reviewed_at"]
    if changes:
        old_values = {field: getattr(item, field) for field in changes}
        for field, value in changes.items():
            setattr(item, field, value)
        _validate_edit(item)
        item.content_hash = item_content_hash(item)
        refuse_duplicate_content(item_id=item.pk, digest=item.content_hash)
        item.version += 1
        revisions += _field_revisions(
            item=item, old_values=old_values, changes=changes, user=reviewer
        )
        fields += [*changes, "content_hash"]
    item.version += 1
    revisions.append(
        status_revision(
            item_id=item.pk,
            version=item.version,
            old=item.status,
            new=status,
            user=reviewer,
            reason=reason,
            job_id=None,
        )
    )
    item.status = status
    item.status_reason = reason
    item.reviewer = reviewer
    item.reviewed_at = now
    # A decision ends the claim on the item.
    item.claimed_by = None
    item.claim_expires_at = None
    item.save(update_fields=[*fields, "claimed_by", "claim_expires_at", "updated_at"])
    ItemRevision.objects.bulk_create(revisions)
    decision.version = item.version
    decision.save()
    if not held_it:  # deciding on an item they do not hold: what they hold stays theirs
        claims_renew(user=reviewer)
    transaction.on_commit(lambda: review_progress_count_decision(reviewer_id=reviewer.pk))
    return item
