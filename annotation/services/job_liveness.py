"""Keeping jobs alive: their messages really sent, their heartbeats, and the sweep that finds
the jobs whose worker died (SPEC §5).

- A job's task message is sent once the job row is committed. If the broker cannot be
  reached the job is marked failed at once and QueueUnavailable raised (the API answers 503):
  no job row is left queued for a message that never left.
- A worker beats a job's heart while it works (job_heartbeat, from a thread during model
  work). A running job without a beat for VAD_JOB_STALL_SECONDS is *stalled*
  (selectors.job_is_stalled). The sweep (a Celery beat task, every VAD_JOB_SWEEP_SECONDS)
  sends a stalled job's unfinished work again (pipeline jobs, whose chunks commit on their
  own) or fails it (an import: one transaction, which PostgreSQL rolled back when its worker
  died), so it resumes within minutes instead of at the broker's visibility timeout.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from ..errors import QueueUnavailable
from ..models import Job
from ..selectors import job_is_stalled, job_last_beat
from .imports.jobs import JOB_LOCK_CLASS
from .jobs import job_fail, job_heartbeat, job_is_resumable, job_resume

logger = logging.getLogger(__name__)

# The lock an import holds for its whole transaction (services.imports._lock_job): while
# some session holds it, that import is still running, whatever its heartbeat says.


def job_send_on_commit(*, job_id: int, send: Callable[[], None]) -> None:
    """Call `send` (which queues the job's task messages) once the transaction commits.

    If the broker cannot be reached the job is failed with a message saying so and
    QueueUnavailable is raised from the commit, so the caller can answer 503.
    """

    def send_or_fail() -> None:
        try:
            send()
        except BrokerUnreachable as error:
            logger.error("job %s: the task queue cannot be reached: %s", job_id, error)
            job_fail(
                job_id=job_id,
                error=(
                    "the task queue (broker) could not be reached, so the job was never "
                    f"started: {error}. Start it again once the queue is back."
                ),
            )
            raise QueueUnavailable(
                f"the task queue cannot be reached; job {job_id} was not started"
            ) from error

    transaction.on_commit(send_or_fail)


@contextmanager
def job_heartbeats(*, job_id: int, every: float | None = None) -> Iterator[None]:
    """Beat the job's heart every `every` seconds (VAD_JOB_HEARTBEAT_SECONDS) from a thread
    while the block runs: model work holds the worker for a long time without a write.

    The thread has a database connection of its own, so it beats outside the caller's
    transaction, and it dies with its process: a killed worker stops beating.
    """
    interval = every if every is not None else settings.VAD_JOB_HEARTBEAT_SECONDS
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(interval):
                try:
                    job_heartbeat(job_id=job_id)
                except Exception:  # a missed beat must not end the work it reports on
                    logger.warning("job %s: heartbeat failed", job_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _import_still_running(job_id: int) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 2",
            [JOB_LOCK_CLASS, job_id % 2**31],
        )
        return cursor.fetchone()[0] > 0


def _stalled_error(last_beat: datetime | None) -> str:
    since = f"since {last_beat.isoformat(timespec='seconds')}" if last_beat else "at all"
    return (
        f"stalled: no heartbeat from its worker {since} (the worker stopped or was killed); "
        "nothing of it was kept, start it again"
    )


@transaction.atomic
def _job_sweep(*, job_id: int, now: datetime) -> str | None:
    """Resend or fail one job if it is (still, under its row lock) stalled."""
    job = Job.objects.select_for_update().get(pk=job_id)
    if not job_is_stalled(job=job, now=now):
        return None
    if job_is_resumable(job):
        job_resume(job_id=job.pk)
        return "resent"
    if job.kind == Job.Kind.IMPORT and _import_still_running(job.pk):
        return None
    job_fail(job_id=job.pk, error=_stalled_error(job_last_beat(job=job)))
    return "failed"


def jobs_sweep_stalled(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Resend the unfinished work of stalled pipeline jobs and fail stalled one-shot jobs.

    Returns the ids of the jobs resent and failed. Safe to run anywhere, any number of times.
    """
    now = now or timezone.now()
    outcome: dict[str, list[int]] = {"resent": [], "failed": []}
    running = Job.objects.filter(status=Job.State.RUNNING).values_list("pk", flat=True)
    for job_id in list(running):
        try:
            done = _job_sweep(job_id=job_id, now=now)
        except QueueUnavailable:
            done = "failed"
        if done:
            outcome[done].append(job_id)
            logger.warning("job %s stalled: %s", job_id, done)
    return outcome
