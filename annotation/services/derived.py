"""Items made from others: a translation replaces the English text, an evolution adds a child.

The pipeline's translate and evolve jobs write items only through these functions: every
status change is checked against the lifecycle, every changed field gets a revision, and a
text that would duplicate another item is refused (DuplicateContent) before anything is
written.
"""

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from ..hashing import content_hash
from ..lifecycle import check_transition
from ..models import Item, ItemRevision, Source, Status
from .items import refuse_duplicate_content, status_revision

# Items whose text a translation or an answer may replace again (an admin's "redo"): never
# items in review or reviewed, whose text a reviewer is looking at or has approved.
REDOABLE_STATUSES = (Status.CANDIDATE, Status.SCORED, Status.FILTERED_OUT)


class NotRedoable(ValueError):
    """The item is not one a translation or an answer can be (re)applied to."""


def _merged_flags(current: Iterable[str], *, drop: Iterable[str], add: Iterable[str]) -> list:
    drop = set(drop)
    flags = [f for f in current if f not in drop]
    return flags + [f for f in add if f not in flags]


def _text_revisions(*, item: Item, new: dict[str, str], reason: str, user, job) -> list:
    return [
        ItemRevision(
            item=item,
            version=item.version,
            field=field,
            old_value=getattr(item, field),
            new_value=value,
            reason=reason,
            user=user,
            job=job,
        )
        for field, value in new.items()
        if getattr(item, field) != value
    ]


@transaction.atomic
def item_apply_translation(
    *,
    item_id: int,
    instruction: str,
    input: str = "",
    output: str,
    flags: Iterable[str] = (),
    drop_flags: Iterable[str] = (),
    translation: dict | None = None,
    user=None,
    job=None,
) -> Item:
    """Put the Chinese text on an item; the English stays in `origin` (en_instruction,
    en_output). A pending translation becomes a candidate; a translated item that is not in
    review (REDOABLE_STATUSES) gets its text replaced and keeps its status."""
    item = Item.objects.select_for_update().get(pk=item_id)
    pending = item.status == Status.PENDING_TRANSLATION
    if pending:
        check_transition(item_id=item.pk, current=item.status, target=Status.CANDIDATE)
    elif item.status not in REDOABLE_STATUSES or "en_instruction" not in item.origin:
        raise NotRedoable(f"item {item.pk} ({item.status}) is not a translation that can be redone")
    new = {"instruction": instruction, "input": input, "output": output}
    digest = content_hash(source=item.source, categorization=item.categorization, **new)
    refuse_duplicate_content(item_id=item.pk, digest=digest)
    item.version += 1
    reason = "translated" if pending else "retranslated"
    revisions = _text_revisions(item=item, new=new, reason=reason, user=user, job=job)
    origin = dict(item.origin)
    if pending:
        origin.setdefault("en_instruction", item.instruction)
        origin.setdefault("en_output", item.output)
        if item.input:
            origin.setdefault("en_input", item.input)
        revisions.append(
            status_revision(
                item_id=item.pk,
                version=item.version,
                old=item.status,
                new=Status.CANDIDATE,
                user=user,
                reason=reason,
                job_id=job.pk if job else None,
            )
        )
        item.status = Status.CANDIDATE
        item.status_reason = ""
    if translation is not None:
        origin["translation"] = translation
    origin.pop("translation_error", None)  # what an earlier failed attempt left
    for field, value in new.items():
        setattr(item, field, value)
    item.origin = origin
    item.flags = _merged_flags(item.flags, drop=drop_flags, add=flags)
    item.content_hash = digest
    item.save()
    ItemRevision.objects.bulk_create(revisions)
    return item


@transaction.atomic
def item_set_flags(
    *,
    item_id: int,
    add: Iterable[str] = (),
    drop: Iterable[str] = (),
    origin_updates: dict | None = None,
) -> Item:
    """Flag an item for reviewers (e.g. an empty translation) without touching its text or
    status; flags are not part of the versioned fields."""
    item = Item.objects.select_for_update().get(pk=item_id)
    item.flags = _merged_flags(item.flags, drop=drop, add=add)
    if origin_updates:
        item.origin = {**item.origin, **origin_updates}
    item.save(update_fields=["flags", "origin", "updated_at"])
    return item


@transaction.atomic
def item_create_evolved(
    *,
    parent_id: int,
    operation: str,
    round: int,
    instruction: str,
    input: str = "",
    generation: dict | None = None,
    job=None,
) -> tuple[Item, bool]:
    """A child grown from `parent` by one Evol-Instruct operation, waiting for its answer
    (`pending_evolution`). Idempotent by source key: returns (item, created)."""
    source_key = f"evolve:{parent_id}:{operation}:{round}"
    existing = Item.objects.filter(source_key=source_key).first()
    if existing is not None:
        return existing, False
    parent = Item.objects.get(pk=parent_id)
    fields = {"instruction": instruction, "input": input, "output": ""}
    digest = content_hash(source=Source.SYNTHETIC, categorization="", **fields)
    refuse_duplicate_content(item_id=None, digest=digest)
    origin = {
        "dataset": parent.origin.get("dataset"),
        "license": parent.origin.get("license"),
        "domain": parent.origin.get("domain"),
        "domain_zh": parent.origin.get("domain_zh"),
        "parent_id": parent.pk,
        "seed_id": parent.origin.get("seed_id", parent.pk),
        "operation": operation,
        "round": round,
    }
    if generation:
        origin["evolution"] = generation
    try:
        with transaction.atomic():
            item = Item.objects.create(
                **fields,
                source=Source.SYNTHETIC,
                status=Status.PENDING_EVOLUTION,
                parent=parent,
                source_key=source_key,
                content_hash=digest,
                origin=origin,
                import_job=job,
            )
    except IntegrityError:  # a redelivered task made the same child meanwhile
        existing = Item.objects.filter(source_key=source_key).first()
        if existing is None:
            raise
        return existing, False
    return item, True


@transaction.atomic
def item_apply_answer(
    *,
    item_id: int,
    output: str,
    eliminated_by: str | None = None,
    flags: Iterable[str] = (),
    drop_flags: Iterable[str] = (),
    generation: dict | None = None,
    user=None,
    job=None,
) -> Item:
    """Give an evolved instruction its answer. A pending item becomes a candidate, or
    `filtered_out` with the elimination rule as its status reason; an answered item that is
    not in review (REDOABLE_STATUSES) gets the new answer and keeps its status."""
    item = Item.objects.select_for_update().get(pk=item_id)
    pending = item.status == Status.PENDING_EVOLUTION
    if pending:
        target = Status.FILTERED_OUT if eliminated_by else Status.CANDIDATE
        check_transition(item_id=item.pk, current=item.status, target=target)
    elif item.status not in REDOABLE_STATUSES or item.parent_id is None:
        raise NotRedoable(f"item {item.pk} ({item.status}) is not an answer that can be redone")
    new = {"output": output}
    digest = content_hash(
        instruction=item.instruction,
        input=item.input,
        output=output,
        source=item.source,
        categorization=item.categorization,
    )
    refuse_duplicate_content(item_id=item.pk, digest=digest)
    item.version += 1
    reason = "answered" if pending else "answered again"
    revisions = _text_revisions(item=item, new=new, reason=reason, user=user, job=job)
    if pending:
        revisions.append(
            status_revision(
                item_id=item.pk,
                version=item.version,
                old=item.status,
                new=target,
                user=user,
                reason=eliminated_by or reason,
                job_id=job.pk if job else None,
            )
        )
        item.status = target
        item.status_reason = eliminated_by or ""
    item.output = output
    item.content_hash = digest
    item.flags = _merged_flags(item.flags, drop=drop_flags, add=flags)
    if generation:
        item.origin = {**item.origin, "answer": generation}
    item.origin.pop("answer_error", None)  # what an earlier failed attempt left
    item.save()
    ItemRevision.objects.bulk_create(revisions)
    return item
