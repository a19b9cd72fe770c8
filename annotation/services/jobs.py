"""Job rows (SPEC §5): queued → running → succeeded / failed / cancelled, with progress.

Progress of work that runs inside one long transaction (an import) is invisible in the
database until commit, so it is also published to the cache, which every process can read.
"""

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..errors import JobNotCancellable
from ..models import Job

PROGRESS_TTL_SECONDS = 24 * 3600


def progress_cache_key(job_id: int) -> str:
    return f"job:{job_id}:progress"


def job_create(*, kind: str, params: dict, user=None, total: int = 0) -> Job:
    return Job.objects.create(kind=kind, params=params, created_by=user, total=total)


def job_start(*, job_id: int, total: int | None = None) -> Job:
    """Mark running (idempotent: a redelivered task finds it running already)."""
    updates = {"status": Job.State.RUNNING, "started_at": timezone.now()}
    if total is not None:
        updates["total"] = total
    Job.objects.filter(pk=job_id, status=Job.State.QUEUED).update(**updates)
    if total is not None:
        Job.objects.filter(pk=job_id).update(total=total)
    return Job.objects.get(pk=job_id)


def job_publish_progress(*, job_id: int, done: int, total: int) -> None:
    cache.set(progress_cache_key(job_id), {"done": done, "total": total}, PROGRESS_TTL_SECONDS)


def job_advance(*, job_id: int, by: int) -> None:
    """Count finished work; committed on its own so a chunk's progress survives a crash."""
    Job.objects.filter(pk=job_id).update(done=F("done") + by, updated_at=timezone.now())


def job_succeed(*, job_id: int, report: dict | None = None, done: int | None = None) -> Job:
    job = Job.objects.get(pk=job_id)
    if job.status == Job.State.CANCELLED:
        return job
    job.status = Job.State.SUCCEEDED
    job.finished_at = timezone.now()
    if report is not None:
        job.report = report
    if done is not None:
        job.done = done
    job.save(update_fields=["status", "finished_at", "report", "done", "updated_at"])
    cache.delete(progress_cache_key(job_id))
    return job


def job_fail(*, job_id: int, error: str, report: dict | None = None) -> Job:
    job = Job.objects.get(pk=job_id)
    job.status = Job.State.FAILED
    job.error = error
    job.finished_at = timezone.now()
    if report is not None:
        job.report = report
    job.save(update_fields=["status", "error", "finished_at", "report", "updated_at"])
    cache.delete(progress_cache_key(job_id))
    return job


@transaction.atomic
def job_cancel(*, job_id: int, user=None) -> Job:
    job = Job.objects.select_for_update().get(pk=job_id)
    if job.is_finished:
        raise JobNotCancellable(f"job {job.pk} has already {job.status}")
    job.status = Job.State.CANCELLED
    job.finished_at = timezone.now()
    job.report = {**job.report, "cancelled_by": getattr(user, "username", None)}
    job.save(update_fields=["status", "finished_at", "report", "updated_at"])
    return job


def job_is_cancelled(*, job_id: int) -> bool:
    return Job.objects.filter(pk=job_id, status=Job.State.CANCELLED).exists()
