"""Items made from others: a translation replaces the English text, an evolution adds a child."""

from django.db import transaction

from ..hashing import content_hash
from ..lifecycle import check_transition
from ..models import Item, ItemRevision, Source, Status
from .items import refuse_duplicate_content, status_revision


@transaction.atomic
def item_apply_translation(
    *, item_id: int, instruction: str, input: str = "", output: str, user=None, job=None
) -> Item:
    """Put the Chinese text on a pending translation; the English stays in `origin`."""
    item = Item.objects.select_for_update().get(pk=item_id)
    check_transition(item_id=item.pk, current=item.status, target=Status.CANDIDATE)
    new = {"instruction": instruction, "input": input, "output": output}
    digest = content_hash(source=item.source, categorization=item.categorization, **new)
    refuse_duplicate_content(item_id=item.pk, digest=digest)
    item.version += 1
    revisions = [
        ItemRevision(
            item=item,
            version=item.version,
            field=field,
            old_value=getattr(item, field),
            new_value=value,
            reason="translated",
            user=user,
            job=job,
        )
        for field, value in new.items()
        if getattr(item, field) != value
    ]
    revisions.append(
        status_revision(
            item_id=item.pk,
            version=item.version,
            old=item.status,
            new=Status.CANDIDATE,
            user=user,
            reason="translated",
            job_id=job.pk if job else None,
        )
    )
    origin = dict(item.origin)
    origin.setdefault("en_instruction", item.instruction)
    origin.setdefault("en_output", item.output)
    for field, value in new.items():
        setattr(item, field, value)
    item.origin = origin
    item.status = Status.CANDIDATE
    item.content_hash = digest
    item.save()
    ItemRevision.objects.bulk_create(revisions)
    return item


@transaction.atomic
def item_create_evolved(
    *,
    parent_id: int,
    operation: str,
    round: int,
    instruction: str,
    output: str = "",
    input: str = "",
    job=None,
) -> Item:
    """A child grown from `parent` by one Evol-Instruct operation; idempotent by source key."""
    source_key = f"evolve:{parent_id}:{operation}:{round}"
    existing = Item.objects.filter(source_key=source_key).first()
    if existing is not None:
        return existing
    parent = Item.objects.get(pk=parent_id)
    fields = {"instruction": instruction, "input": input, "output": output}
    digest = content_hash(source=Source.SYNTHETIC, categorization="", **fields)
    refuse_duplicate_content(item_id=None, digest=digest)
    origin = {
        "dataset": parent.origin.get("dataset"),
        "license": parent.origin.get("license"),
        "domain": parent.origin.get("domain"),
        "parent_id": parent.pk,
        "operation": operation,
        "round": round,
    }
    return Item.objects.create(
        **fields,
        source=Source.SYNTHETIC,
        status=Status.CANDIDATE if output else Status.PENDING_EVOLUTION,
        parent=parent,
        source_key=source_key,
        content_hash=digest,
        origin=origin,
        import_job=job,
    )
