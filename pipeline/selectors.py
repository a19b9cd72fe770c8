"""Which items a scoring or filtering run works on."""

from django.db.models import Q, QuerySet

from annotation.models import Item, Status

RESCORABLE_STATUSES = (Status.CANDIDATE, Status.SCORED)


def items_to_score(*, model: str, rescore: bool = False) -> QuerySet[Item]:
    """Candidates without a score from `model`; with `rescore`, scored items from other models.

    Reviewed items and items in the review queue are never touched.
    """
    if rescore:
        return Item.objects.filter(status__in=RESCORABLE_STATUSES).exclude(ifd_model=model)
    return Item.objects.filter(status=Status.CANDIDATE).exclude(
        Q(ifd_model=model) & Q(ifd__isnull=False)
    )


def items_to_filter(*, model: str | None = None) -> QuerySet[Item]:
    items = Item.objects.filter(status=Status.SCORED, ifd__isnull=False)
    return items.filter(ifd_model=model) if model else items
