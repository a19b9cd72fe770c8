"""Job rows (SPEC §5): queued → running → succeeded / failed / cancelled, with progress.

Every change of a job's state happens here, on the row locked (select_for_update), so two
writers cannot interleave: a finished job stays as it finished (a failure or a late success
never overwrites a cancel, and nothing overwrites a success).

Progress of work that runs inside one long transaction (an import) is invisible in the
database until commit, so it is also published to the cache, which every process can read.
"""

import logging
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from ..errors import JobNotCancellable, JobNotResumable
from ..models import Job, JobChunk

logger = logging.getLogger(__name__)

PROGRESS_TTL_SECONDS = 24 * 3600
ACTIVE_STATES = (Job.State.QUEUED, Job.State.RUNNING)


def progress_cache_key(job_id: int) -> str:
    return f"job:{job_id}:progress"


def heartbeat_cache_key(job_id: int) -> str:
    return f"job:{job_id}:heartbeat"


def cache_call(call: Callable, default=None):
    """A cache read or write that may fail: progress and heartbeats in the cache only add to
    what the job row says, so a cache that cannot be reached (Redis down) is logged and the
    row stands alone rather than a page or a job failing."""
    try:
        return call()
    except Exception as error:  # the cache backend's own errors (redis.ConnectionError, ...)
        logger.warning("cache unavailable: %s: %s", type(error).__name__, error)
        return default


def _locked(job_id: int) -> Job:
    return Job.objects.select_for_update().get(pk=job_id)


def job_create(*, kind: str, params: dict, user=None, total: int = 0) -> Job:
    return Job.objects.create(kind=kind, params=params, created_by=user, total=total)


@transaction.atomic
def job_start(*, job_id: int) -> Job:
    """Mark running (idempotent: a redelivered task finds it running already)."""
    job = _locked(job_id)
    if job.status == Job.State.QUEUED:
        job.status = Job.State.RUNNING
        job.started_at = job.heartbeat_at = timezone.now()
        job.save(update_fields=["status", "started_at", "heartbeat_at", "updated_at"])
    return job


def job_heartbeat(*, job_id: int) -> None:
    """Record that the worker running this job is alive (see selectors.job_is_stalled).

    Outside a transaction it stamps the job row. Inside one (an import's single transaction)
    it goes to the cache instead: a row update there would hold the job's row lock until the
    import commits, and a cancel (which locks the row) would wait for the whole import.
    """
    now = timezone.now()
    if transaction.get_connection().in_atomic_block:
        cache_call(lambda: cache.set(heartbeat_cache_key(job_id), now, PROGRESS_TTL_SECONDS))
        return
    Job.objects.filter(pk=job_id, status__in=ACTIVE_STATES).update(heartbeat_at=now)


def job_publish_progress(*, job_id: int, done: int, total: int) -> None:
    """done/total for the progress bar; publishing progress is also a heartbeat."""
    cache_call(
        lambda: cache.set(
            progress_cache_key(job_id), {"done": done, "total": total}, PROGRESS_TTL_SECONDS
        )
    )
    job_heartbeat(job_id=job_id)


def job_advance(*, job_id: int, by: int) -> None:
    """Count finished work; committed on its own so a chunk's progress survives a crash."""
    now = timezone.now()
    Job.objects.filter(pk=job_id).update(done=F("done") + by, heartbeat_at=now, updated_at=now)


def _forget_cached(job_id: int) -> None:
    cache_call(lambda: cache.delete_many([progress_cache_key(job_id), heartbeat_cache_key(job_id)]))


@transaction.atomic
def job_succeed(
    *, job_id: int, report: dict | None = None, done: int | None = None, total: int | None = None
) -> Job:
    """Mark a queued or running job succeeded; a finished job is returned unchanged."""
    job = _locked(job_id)
    if job.is_finished:
        return job
    job.status = Job.State.SUCCEEDED
    job.finished_at = timezone.now()
    if report is not None:
        job.report = report
    if done is not None:
        job.done = done
    if total is not None:
        job.total = total
    job.save(update_fields=["status", "finished_at", "report", "done", "total", "updated_at"])
    _forget_cached(job_id)
    return job


@transaction.atomic
def job_fail(*, job_id: int, error: str, report: dict | None = None) -> Job:
    """Mark a queued or running job failed; a cancelled or finished job stays as it is."""
    job = _locked(job_id)
    if job.is_finished:
        return job
    job.status = Job.State.FAILED
    job.error = error
    job.finished_at = timezone.now()
    if report is not None:
        job.report = report
    job.save(update_fields=["status", "error", "finished_at", "report", "updated_at"])
    _forget_cached(job_id)
    return job


@transaction.atomic
def job_cancel(*, job_id: int, user=None) -> Job:
    job = _locked(job_id)
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


# How each kind of job is sent to its workers again, registered by the app that runs it
# (pipeline registers score and filter from its AppConfig.ready(); annotation imports neither).
# A kind without one cannot be resumed: an import is one transaction, started again instead.
_senders: dict[str, Callable[[int], None]] = {}


def job_sender_register(*, kind: str, send: Callable[[int], None] | None) -> None:
    """`send(job_id)` queues the job's unfinished work; it must be safe to call twice.
    None forgets the kind's sender."""
    if send is None:
        _senders.pop(kind, None)
    else:
        _senders[kind] = send


def job_is_resumable(job: Job) -> bool:
    return job.kind in _senders


@transaction.atomic
def job_resume(*, job_id: int, user=None) -> Job:
    """Queue a job's unfinished work again: after its worker was lost, or after it failed
    (done chunks stay done). Raises JobNotResumable for finished jobs and one-shot kinds."""
    from .job_liveness import job_send_on_commit  # that module builds on this one

    job = _locked(job_id)
    if not job_is_resumable(job):
        raise JobNotResumable(
            f"job {job.pk} is a {job.kind} job, which runs in one transaction: start it again"
        )
    if job.status in (Job.State.SUCCEEDED, Job.State.CANCELLED):
        raise JobNotResumable(f"job {job.pk} has already {job.status}")
    if job.status == Job.State.FAILED:
        job.status = Job.State.RUNNING
        job.error = ""
        job.finished_at = None
    job.heartbeat_at = timezone.now()  # the resend is the sign of life the sweep waits for
    resumed_by = getattr(user, "username", None)
    job.report = {**job.report, "resumed": job.report.get("resumed", 0) + 1}
    if resumed_by:
        job.report["resumed_by"] = resumed_by
    job.save(
        update_fields=["status", "error", "finished_at", "heartbeat_at", "report", "updated_at"]
    )
    send = _senders[job.kind]
    job_send_on_commit(job_id=job.pk, send=lambda: send(job_id))
    return job


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


def job_chunk_begin(*, job_id: int, index: int) -> JobChunk | None:
    """A worker takes up a chunk: counts the attempt, starts the job, beats its heart.

    None when the chunk is done already or its job is over (nothing to do)."""
    chunk = JobChunk.objects.select_related("job").get(job_id=job_id, index=index)
    if chunk.done or chunk.job.is_finished:
        return None
    chunk.job = job_start(job_id=job_id)  # first: a counted attempt means a running job
    JobChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1)
    job_heartbeat(job_id=job_id)
    return chunk


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


@transaction.atomic
def job_finish_if_complete(*, job_id: int, report: dict | None = None) -> bool:
    """Succeed the job once no chunk is left; safe to call from every chunk."""
    job = _locked(job_id)
    if job.is_finished or JobChunk.objects.filter(job_id=job_id, done=False).exists():
        return False
    job_succeed(job_id=job_id, report=report)
    return True
