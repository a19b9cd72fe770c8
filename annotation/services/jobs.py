"""Job rows (SPEC §5): queued → running → succeeded / failed / cancelled, with progress.

Progress of work that runs inside one long transaction (an import) is invisible in the
database until commit, so it is also published to the cache, which every process can read.
"""

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from ..errors import JobNotCancellable
from ..models import Job, JobChunk

PROGRESS_TTL_SECONDS = 24 * 3600


def progress_cache_key(job_id: int) -> str:
    return f"job:{job_id}:progress"


def job_create(*, kind: str, params: dict, user=None, total: int = 0) -> Job:
    return Job.objects.create(kind=kind, params=params, created_by=user, total=total)


def job_start(*, job_id: int) -> Job:
    """Mark running (idempotent: a redelivered task finds it running already)."""
    Job.objects.filter(pk=job_id, status=Job.State.QUEUED).update(
        status=Job.State.RUNNING, started_at=timezone.now()
    )
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


def job_cancelled_query(*, job_id: int) -> QuerySet:
    """One row (the job's id) when the job has been cancelled, none otherwise."""
    return Job.objects.filter(pk=job_id, status=Job.State.CANCELLED).values_list("pk")[:1]


def job_is_cancelled(*, job_id: int) -> bool:
    return job_cancelled_query(job_id=job_id).exists()


def job_create_chunks(*, job: Job, item_ids: list[int], chunk_size: int) -> list[JobChunk]:
    """Split a job's items into chunks that commit on their own; sets the job's total."""
    chunks = JobChunk.objects.bulk_create(
        JobChunk(job=job, index=n, item_ids=item_ids[start : start + chunk_size])
        for n, start in enumerate(range(0, len(item_ids), chunk_size))
    )
    Job.objects.filter(pk=job.pk).update(total=len(item_ids))
    job.total = len(item_ids)
    return chunks


def job_pending_chunks(*, job_id: int) -> list[int]:
    return list(
        JobChunk.objects.filter(job_id=job_id, done=False)
        .order_by("index")
        .values_list("index", flat=True)
    )


def job_chunk_lock(*, job_id: int, index: int) -> JobChunk | None:
    """Lock a chunk for its final write; None when it is done already or its job is over.

    Call inside the transaction that writes the chunk's results.
    """
    chunk = (
        JobChunk.objects.select_for_update().select_related("job").get(job_id=job_id, index=index)
    )
    if chunk.done or chunk.job.is_finished:
        return None
    return chunk


def job_chunk_finish(*, chunk: JobChunk) -> None:
    """Mark a locked chunk done and count its items; part of the caller's transaction."""
    chunk.done = True
    chunk.finished_at = timezone.now()
    chunk.save(update_fields=["done", "finished_at"])
    job_advance(job_id=chunk.job_id, by=len(chunk.item_ids))


def job_finish_if_complete(*, job_id: int, report: dict | None = None) -> bool:
    """Succeed the job once no chunk is left; safe to call from every chunk."""
    if JobChunk.objects.filter(job_id=job_id, done=False).exists():
        return False
    updates = {"status": Job.State.SUCCEEDED, "finished_at": timezone.now()}
    if report is not None:
        updates["report"] = report
    finished = Job.objects.filter(
        pk=job_id, status__in=[Job.State.QUEUED, Job.State.RUNNING]
    ).update(**updates)
    return bool(finished)
