"""Recording IFD scores on items (SPEC §2, §4): the one writer of an item's score.

A first score moves a candidate to `scored` (a checked transition: version +1 and a status
revision); a rescore overwrites the score of a candidate or scored item and records the old
one in an `ifd` revision. Items in any other status are refused (InvalidTransition).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..bulk import bulk_update_fields
from ..lifecycle import check_transition
from ..models import Item, ItemRevision, Job, Status
from .items import status_revision

# What a score writes on an item. bulk_update_fields, like bulk_update, leaves auto_now
# alone, so updated_at is set by hand and listed here.
SCORED_ITEM_FIELDS = [
    "ifd",
    "ifd_ppl",
    "ifd_model",
    "ifd_params",
    "scored_at",
    "status",
    "version",
    "updated_at",
]


@dataclass(frozen=True)
class ScoreRecord:
    """One item's score: IFD (Cherry LLM), IFD as perplexity ratio (Superfiltering), and the
    details of how it was computed (token counts, cuts, losses), kept in `ifd_params`."""

    ifd: float
    ifd_ppl: float
    details: dict = field(default_factory=dict)


@transaction.atomic
def items_record_scores(
    *,
    results: Mapping[int, ScoreRecord],
    model: str,
    job: Job | None = None,
    user=None,
    among: QuerySet[Item] | None = None,
) -> int:
    """Store the score of each item in `results` (item id → ScoreRecord); returns how many.

    `among` narrows which items may still take a score (re-read under lock: an item that
    left it while the model ran, e.g. sent to review meanwhile, is skipped, not refused).
    One UPDATE for all the items (annotation.bulk.bulk_update_fields) and one INSERT of the
    revisions, so that writing a chunk's scores costs far less than scoring it.
    """
    base = Item.objects.all() if among is None else among
    items = list(base.select_for_update().filter(pk__in=list(results)).order_by("pk"))
    now = timezone.now()
    job_id = job.pk if job is not None else None
    revisions = []
    for item in items:
        record = results[item.pk]
        if item.status == Status.CANDIDATE:
            check_transition(item_id=item.pk, current=item.status, target=Status.SCORED)
            item.version += 1
            revisions.append(
                status_revision(
                    item_id=item.pk,
                    version=item.version,
                    old=item.status,
                    new=Status.SCORED,
                    user=user,
                    reason=f"scored with {model}",
                    job_id=job_id,
                )
            )
            item.status = Status.SCORED
        elif item.status != Status.SCORED:  # only candidates and scored items take a score
            check_transition(item_id=item.pk, current=item.status, target=Status.SCORED)
        if item.ifd is not None:
            revisions.append(
                ItemRevision(
                    item_id=item.pk,
                    version=item.version,
                    field=ItemRevision.Field.IFD,
                    old_value=f"{item.ifd} ({item.ifd_model})",
                    new_value=f"{record.ifd} ({model})",
                    reason="rescored",
                    user=user,
                    job_id=job_id,
                )
            )
        item.ifd = record.ifd
        item.ifd_ppl = record.ifd_ppl
        item.ifd_model = model
        item.ifd_params = {"job_id": job_id, **record.details}
        item.scored_at = item.updated_at = now
    bulk_update_fields(items, SCORED_ITEM_FIELDS)
    ItemRevision.objects.bulk_create(revisions)
    return len(items)
