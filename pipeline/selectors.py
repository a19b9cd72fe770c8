"""Which items a scoring or filtering run works on."""

from django.db import connection
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


# Flags the translate and evolve jobs set (scoring.translation, scoring.evolution, and the
# answer flags of pipeline.services.evolve_chunk).
GENERATION_FLAGS = (
    "translation_length_ratio",
    "translation_repetition",
    "translation_untranslated_latin",
    "translation_empty",
    "translation_failed",
    "judge_unparsed",
    "answer_empty",
    "answer_failed",
    "answer_duplicate",
    "answer_short_refusal",
    "answer_stopwords_only",
    "answer_template_copy",
)


def items_generated() -> QuerySet[Item]:
    return Item.objects.select_related("parent")


def items_flagged(*, flag: str | None = None) -> QuerySet[Item]:
    """Items with a flag (the given one, or any), newest first, with their parent."""
    items = items_generated().exclude(flags=[])
    if flag:
        if connection.vendor == "postgresql":
            items = items.filter(flags__contains=[flag])
        else:  # SQLite has no JSON containment: match the quoted string in the array
            items = items.filter(flags__icontains=f'"{flag}"')
    return items.order_by("-pk")
