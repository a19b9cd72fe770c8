"""Reads of the review workspace (SPEC §7): the queue, progress counts, history.

Apart from selectors.py so that the review services can use them: this module imports no
services (selectors.py does, for job progress), and selectors.py re-exports these names.
"""

import time
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext

from .filters import InvalidFilters, ReviewQueueFilter, apply_filters, query_values
from .models import Item, ItemRevision, ReviewDecision, ReviewSkip, SavedFilter, Status

QUEUE_LEFT_CACHE_KEY = "review:queue_left"


def review_progress_cache_key(reviewer_id: int) -> str:
    """Where review_progress caches a reviewer's counts; their decisions clear it."""
    return f"review:progress:{reviewer_id}"


# The order the item_review_queue index holds: IFD high to low, unscored items last.
REVIEW_QUEUE_ORDER = (F("ifd").desc(nulls_last=True), F("id").asc())


def review_queue(
    *, reviewer, filters: Mapping | None = None, now: datetime | None = None
) -> QuerySet[Item]:
    """Items free to claim for `reviewer`, in queue order, leaving out those they skipped.

    `filters`: ReviewQueueFilter's parameters, plus `saved_filter` (the id of a SavedFilter
    the reviewer may use, whose parameters apply under the ones given). Raises
    InvalidFilters naming each bad parameter.
    """
    skipped = ReviewSkip.objects.filter(item=OuterRef("pk"), reviewer=reviewer)
    return _free_items(reviewer=reviewer, filters=filters, now=now).filter(~Exists(skipped))


def review_queue_skipped(
    *, reviewer, filters: Mapping | None = None, now: datetime | None = None
) -> QuerySet[Item]:
    """The back of `reviewer`'s queue: free items they skipped, the longest ago first."""
    return (
        _free_items(reviewer=reviewer, filters=filters, now=now)
        .filter(review_skips__reviewer=reviewer)
        .order_by("review_skips__skipped_at", "id")
    )


def _free_items(*, reviewer, filters: Mapping | None, now: datetime | None) -> QuerySet[Item]:
    now = now or timezone.now()
    items = Item.objects.filter(status=Status.IN_REVIEW).filter(
        Q(claimed_by__isnull=True) | Q(claim_expires_at__lte=now)
    )
    params = review_filter_params(reviewer=reviewer, filters=filters)
    if params:
        items = apply_filters(ReviewQueueFilter, items, MultiValueDict(params))
    return items.order_by(*REVIEW_QUEUE_ORDER)


def review_filter_params(*, reviewer, filters: Mapping | None) -> dict[str, list[str]]:
    """The queue's filter parameters, with a saved filter's merged under the given ones."""
    params: dict[str, list[str]] = {}
    given = filters or {}
    saved_id = query_values(given, "saved_filter")
    if saved_id:
        saved = saved_filters_for(reviewer=reviewer).filter(
            pk=int(saved_id[0]) if saved_id[0].isdigit() else None
        )
        found = saved.first()
        if found is None:
            raise InvalidFilters(
                {"saved_filter": [gettext("No saved filter %(id)s.") % {"id": saved_id[0]}]}
            )
        for name, value in found.params.items():
            params[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    for name in ReviewQueueFilter.base_filters:
        values = query_values(given, name)
        if values:
            params[name] = values
    return params


def saved_filters_for(*, reviewer) -> QuerySet[SavedFilter]:
    """The saved filters `reviewer` may use: their own and the shared ones."""
    return SavedFilter.objects.filter(Q(owner=reviewer) | Q(owner__isnull=True))


def review_progress(*, reviewer) -> dict[str, int]:
    """{"today", "week", "queue_left"}: the reviewer's decisions since local midnight and
    since Monday (undone ones not counted), and the items in review. Cached up to
    VAD_REVIEW_PROGRESS_CACHE_SECONDS; a decision adds itself to the reviewer's cached
    counts (review_progress_count_decision), an undo clears them."""
    ttl = settings.VAD_REVIEW_PROGRESS_CACHE_SECONDS
    key = review_progress_cache_key(reviewer.pk)
    cached = cache.get(key)
    if isinstance(cached, tuple):  # (an entry of the older, plain form is counted again)
        return cached[0]
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    counts = ReviewDecision.objects.filter(
        reviewer=reviewer, undone_at__isnull=True, created_at__gte=week
    ).aggregate(week=Count("id"), today=Count("id", filter=Q(created_at__gte=today)))
    queue_left = cache.get(QUEUE_LEFT_CACHE_KEY)
    if queue_left is None:
        queue_left = Item.objects.filter(status=Status.IN_REVIEW).count()
        cache.set(QUEUE_LEFT_CACHE_KEY, queue_left, ttl)
    progress = {"today": counts["today"], "week": counts["week"], "queue_left": queue_left}
    # With the day they count (the week starts on a day too) and when they expire.
    cache.set(key, (progress, today.date(), time.time() + ttl), ttl)
    return progress


def review_progress_count_decision(*, reviewer_id: int) -> None:
    """Count a decision just committed in the reviewer's cached progress, if it is cached.

    Clearing the cache instead made the panel after every decision count the week's
    decisions again: one aggregate query per decision (1 ms of app CPU and growing with the
    week's decisions). The counts keep their expiry; across midnight (a new day, maybe a new
    week) they are dropped and counted afresh. Two decisions of one reviewer committing at
    the same instant may count once until the counts expire (within the 30 s they may lag).
    """
    key = review_progress_cache_key(reviewer_id)
    cached = cache.get(key)
    if not isinstance(cached, tuple):
        return
    progress, day, expires = cached
    left = expires - time.time()
    if day != timezone.localdate() or left < 1:
        cache.delete(key)
        return
    progress = {**progress, "today": progress["today"] + 1, "week": progress["week"] + 1}
    cache.set(key, (progress, day, expires), left)


def item_history(*, item_id: int) -> QuerySet[ItemRevision]:
    """An item's revisions, oldest first, with who made each."""
    return ItemRevision.objects.filter(item_id=item_id).select_related("user", "job").order_by("id")


def review_last_decision(*, reviewer, item_id: int | None = None) -> ReviewDecision | None:
    """The reviewer's latest decision not undone yet (on one item, when given)."""
    decisions = ReviewDecision.objects.filter(reviewer=reviewer, undone_at__isnull=True)
    if item_id is not None:
        decisions = decisions.filter(item_id=item_id)
    return decisions.order_by("-id").first()
