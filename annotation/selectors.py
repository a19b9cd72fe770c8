"""Reads. Views, the API and commands ask these; they hold the query knowledge."""

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Prefetch, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from .filters import ExportFilter, ItemFilter, apply_filters, query_values
from .hashing import VAD_FIELDS
from .models import Guideline, Item, ItemRevision, Job, Source, Status
from .selectors_review import (  # noqa: F401  (the review workspace's reads, re-exported)
    item_history,
    review_filter_params,
    review_last_decision,
    review_progress,
    review_queue,
    review_queue_skipped,
    saved_filters_for,
)
from .services.jobs import cache_call, heartbeat_cache_key, progress_cache_key


def item_status_counts() -> list[tuple[str, str, int]]:
    counts = dict(Item.objects.values_list("status").annotate(n=Count("id")).order_by())
    return [(s.value, s.label, counts.get(s.value, 0)) for s in Status]


def item_source_counts() -> list[tuple[str, str, int]]:
    counts = dict(Item.objects.values_list("source").annotate(n=Count("id")).order_by())
    return [(s.value, s.label, counts.get(s.value, 0)) for s in Source]


def job_list() -> QuerySet[Job]:
    return Job.objects.select_related("created_by").order_by("-id")


def job_any_active() -> bool:
    return Job.objects.exclude(status__in=Job.FINISHED_STATES).exists()


def job_progress(*, job: Job) -> tuple[int, int]:
    """done/total, from the cache while a job publishes progress there (imports), else the row."""
    if job.status == Job.State.RUNNING:
        published = cache_call(lambda: cache.get(progress_cache_key(job.pk)))
        if published:
            return published["done"], published["total"]
    return job.done, job.total


def job_last_beat(*, job: Job) -> datetime | None:
    """The last sign of life of a job's worker: the row's heartbeat, or the one an import
    publishes in the cache from inside its transaction, or its start."""
    beats = [job.heartbeat_at, job.started_at]
    if job.status == Job.State.RUNNING:
        beats.append(cache_call(lambda: cache.get(heartbeat_cache_key(job.pk))))
    return max((beat for beat in beats if beat is not None), default=None)


def job_is_stalled(*, job: Job, now: datetime | None = None) -> bool:
    """Running, but no heartbeat for VAD_JOB_STALL_SECONDS: its worker is probably gone.

    A label derived from the heartbeat, not a status: the sweep resends or fails such jobs.
    """
    if job.status != Job.State.RUNNING:
        return False
    last = job_last_beat(job=job)
    limit = (now or timezone.now()) - timedelta(seconds=settings.VAD_JOB_STALL_SECONDS)
    return last is None or last < limit


# Item fields the API shows; loading only these keeps list pages lean.
ITEM_API_FIELDS = (
    "id",
    *VAD_FIELDS,
    "status",
    "status_reason",
    "version",
    "content_hash",
    "source_key",
    "ifd",
    "ifd_ppl",
    "ifd_model",
    "ifd_params",
    "scored_at",
    "origin",
    "flags",
    "parent_id",
    "import_job_id",
    "reviewer__username",
    "reviewed_at",
    "claimed_by__username",
    "claim_expires_at",
    "created_at",
    "updated_at",
)


def item_list(*, filters: Mapping | None = None) -> QuerySet[Item]:
    """Items in id order, with the reviewer joined; `filters` are ItemFilter's parameters.

    Raises InvalidFilters naming each parameter whose value does not parse.
    """
    items = (
        Item.objects.select_related("reviewer", "claimed_by").only(*ITEM_API_FIELDS).order_by("id")
    )
    if not filters:
        return items
    return apply_filters(ItemFilter, items, filters)


def item_detail(*, item_id: int) -> Item:
    """One item with its revision history (oldest first); raises Item.DoesNotExist."""
    revisions = ItemRevision.objects.select_related("user").only(
        "item_id",
        "field",
        "old_value",
        "new_value",
        "user__username",
        "version",
        "reason",
        "created_at",
    )
    return (
        item_list()
        .prefetch_related(Prefetch("revisions", queryset=revisions.order_by("id")))
        .get(pk=item_id)
    )


# Columns of an export row, in this order; the exporter unpacks tuples by position.
EXPORT_COLUMNS = VAD_FIELDS
EXPORT_META_COLUMNS = (
    "id",
    "ifd",
    "ifd_ppl",
    "reviewer__username",
    "reviewed_at",
    "origin_license",
    "origin_text",
)


def export_filters_with_defaults(filters: Mapping | None) -> dict[str, str]:
    """The export's filters as plain strings, with the default status (only accepted items)."""
    given: dict[str, str] = {}
    for name in ExportFilter.base_filters:
        values = query_values(filters or {}, name)
        if values:
            given[name] = ",".join(values)
    given.setdefault("status", Status.ACCEPTED)
    return given


def export_rows(*, filters: Mapping | None = None, include_meta: bool = False) -> QuerySet:
    """Tuples to export, in item id order: EXPORT_COLUMNS (+ EXPORT_META_COLUMNS).

    Plain tuples, never model instances, so that a million rows stream without building
    objects. `origin_text` is the origin's JSON text, passed through without parsing.
    Raises InvalidFilters naming each parameter whose value does not parse.
    """
    items = apply_filters(ExportFilter, Item.objects.all(), export_filters_with_defaults(filters))
    columns: tuple[str, ...] = EXPORT_COLUMNS
    if include_meta:
        items = items.annotate(
            origin_license=KeyTextTransform("license", "origin"),
            origin_text=Cast("origin", TextField()),
        )
        columns = (*EXPORT_COLUMNS, *EXPORT_META_COLUMNS)
    return items.order_by("id").values_list(*columns)


def ifd_model_is_demo(*, model: str) -> bool:
    """Whether scores from `model` come from a demo model and mean nothing (VAD_DEMO_MODELS)."""
    return bool(model) and model in settings.VAD_DEMO_MODELS


def demo_scores_present() -> bool:
    """Whether scores on this site come, or will come, from a demo model: the configured
    VAD_IFD_MODEL is one, or some item holds a score from one. False at once (no query)
    where no demo model is configured, as in production."""
    if not settings.VAD_DEMO_MODELS:
        return False
    return (
        ifd_model_is_demo(model=settings.VAD_IFD_MODEL)
        or Item.objects.filter(ifd_model__in=settings.VAD_DEMO_MODELS).exists()
    )


def guideline_for_language(*, language: str) -> Guideline:
    """The guidelines in `language`, else in the default language, else the shipped text.

    The result may be unsaved (a flushed test database, a language nobody wrote yet).
    """
    from .guidelines import DEFAULT_GUIDELINES

    found = {g.language: g for g in Guideline.objects.select_related("updated_by")}
    for code in (language, settings.LANGUAGE_CODE):
        if code in found:
            return found[code]
        if code in DEFAULT_GUIDELINES:
            return Guideline(language=code, body=DEFAULT_GUIDELINES[code])
    return Guideline(language=settings.LANGUAGE_CODE, body="")
