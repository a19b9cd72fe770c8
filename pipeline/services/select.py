"""IFD selection (SPEC §4): drop ifd >= 1, then keep by --min-ifd or --keep-top."""

import math

from django.db import transaction
from django.utils.translation import gettext as _

from annotation.models import Job, Status
from annotation.services import (
    items_change_status,
    job_create,
    job_fail,
    job_heartbeats,
    job_send_on_commit,
    job_start,
    job_succeed,
)

from ..selectors import items_to_filter
from .errors import PipelineConfigError

DROP_NOT_HELPFUL = "ifd >= 1: the instruction does not make the answer easier to predict"


def filter_job_start(
    *,
    user=None,
    min_ifd: float | None = None,
    keep_top: float | None = None,
    model: str | None = None,
) -> Job:
    if min_ifd is not None and keep_top is not None:
        raise PipelineConfigError(_("give either --min-ifd or --keep-top, not both"))
    if keep_top is not None and not 0 < keep_top <= 1:
        raise PipelineConfigError(_("--keep-top is a fraction in (0, 1]"))
    if min_ifd is not None and not math.isfinite(min_ifd):
        raise PipelineConfigError(_("--min-ifd must be a finite number"))
    job = job_create(
        kind=Job.Kind.FILTER,
        params={"min_ifd": min_ifd, "keep_top": keep_top, "model": model},
        user=user,
        # What it will consider as things stand; the run counts again under its lock.
        total=items_to_filter(model=model).count(),
    )
    job_send_on_commit(job_id=job.pk, send=lambda: filter_job_send(job.pk))
    return job


def filter_job_send(job_id: int) -> None:
    from ..tasks import filter_items  # tasks import services: avoid the cycle at import time

    filter_items.delay(job_id=job_id)


def filter_run(*, job_id: int) -> dict:
    """Apply IFD selection to the scored items: drop ifd >= 1, then min-ifd or keep-top.

    Kept items go to the review queue; dropped ones are filtered out with the reason. The
    selection is one transaction; "running" commits before it, so that a worker lost inside
    it leaves a running job whose heartbeat stops (the stalled-job sweep sends it again).
    """
    if job_start(job_id=job_id).is_finished:
        return Job.objects.get(pk=job_id).report
    try:
        with job_heartbeats(job_id=job_id), transaction.atomic():
            job = Job.objects.select_for_update().get(pk=job_id)
            if job.is_finished:
                return job.report
            return _select(job=job)
    except Exception as exc:
        job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        raise


def _select(*, job: Job) -> dict:
    min_ifd, keep_top = job.params.get("min_ifd"), job.params.get("keep_top")
    user = job.created_by
    rows = list(
        items_to_filter(model=job.params.get("model"))
        .select_for_update()
        .order_by("pk")
        .values_list("pk", "ifd")
    )
    not_helpful = [pk for pk, ifd in rows if ifd >= 1]
    # Highest IFD first; ties broken by id so the same data always gives the same selection.
    ranked = sorted(((ifd, pk) for pk, ifd in rows if ifd < 1), key=lambda r: (-r[0], r[1]))
    if min_ifd is not None:
        keep = [pk for ifd, pk in ranked if ifd >= min_ifd]
        low_reason = f"ifd below --min-ifd {min_ifd}"
    elif keep_top is not None:
        keep = [pk for _ifd, pk in ranked[: math.floor(keep_top * len(rows) + 1e-9)]]
        low_reason = f"not in the top {keep_top:.0%} of {len(rows)} scored items by ifd"
    else:
        keep = [pk for _ifd, pk in ranked]
        low_reason = ""
    kept = set(keep)
    low = [pk for _ifd, pk in ranked if pk not in kept]
    items_change_status(
        item_ids=not_helpful,
        status=Status.FILTERED_OUT,
        user=user,
        reason=DROP_NOT_HELPFUL,
        job=job,
    )
    items_change_status(
        item_ids=low, status=Status.FILTERED_OUT, user=user, reason=low_reason, job=job
    )
    items_change_status(item_ids=keep, status=Status.IN_REVIEW, user=user, job=job)
    report = {
        "considered": len(rows),
        "dropped_ifd_ge_1": len(not_helpful),
        "dropped_low_ifd": len(low),
        "kept": len(keep),
        "min_ifd": min_ifd,
        "keep_top": keep_top,
    }
    job_succeed(job_id=job.pk, report=report, done=len(rows), total=len(rows))
    return report
