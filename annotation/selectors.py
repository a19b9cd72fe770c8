"""Reads. Views, the API and commands ask these; they hold the query knowledge."""

from django.core.cache import cache
from django.db.models import Count, QuerySet

from .models import Item, Job, Source, Status
from .services.jobs import progress_cache_key


def item_status_counts() -> list[tuple[str, str, int]]:
    counts = dict(Item.objects.values_list("status").annotate(n=Count("id")).order_by())
    return [(s.value, s.label, counts.get(s.value, 0)) for s in Status]


def item_source_counts() -> list[tuple[str, str, int]]:
    counts = dict(Item.objects.values_list("source").annotate(n=Count("id")).order_by())
    return [(s.value, s.label, counts.get(s.value, 0)) for s in Source]


def job_list() -> QuerySet[Job]:
    return Job.objects.select_related("created_by").order_by("-id")


def job_progress(*, job: Job) -> tuple[int, int]:
    """done/total, from the cache while a job publishes progress there (imports), else the row."""
    if job.status == Job.State.RUNNING:
        published = cache.get(progress_cache_key(job.pk))
        if published:
            return published["done"], published["total"]
    return job.done, job.total
