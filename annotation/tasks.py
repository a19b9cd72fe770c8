"""Celery tasks of the annotation app. Each is thin: it calls one service, which is
idempotent, because tasks are acknowledged late and may run again after a worker dies."""

from celery import shared_task

from .importers.parsing import allow_collector_pause
from .services import import_job_run, import_rollback_run, jobs_sweep_stalled
from .services.search import item_search_text_fill


# Imports go to the "default" queue (CELERY_TASK_DEFAULT_QUEUE); only model work is routed
# elsewhere (CELERY_TASK_ROUTES), which is where Celery wants queues named.
@shared_task(bind=True, acks_late=True)
def run_import(self, job_id: int) -> None:
    if not self.request.is_eager:  # a worker process, not a web process running it in-line
        allow_collector_pause()
    import_job_run(job_id=job_id)


@shared_task
def sweep_stalled_jobs() -> dict:
    """Run by Celery beat (CELERY_BEAT_SCHEDULE): resend or fail jobs whose worker died."""
    return jobs_sweep_stalled()


@shared_task(acks_late=True)
def run_rollback(job_id: int) -> None:
    import_rollback_run(job_id=job_id)


@shared_task(acks_late=True)
def fill_search_text(*, import_job_id: int | None) -> None:
    item_search_text_fill(import_job_id=import_job_id)
