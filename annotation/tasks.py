"""Celery tasks of the annotation app. Each is thin: it calls one service, which is
idempotent, because tasks are acknowledged late and may run again after a worker dies."""

from celery import shared_task

from .services import import_job_run, jobs_sweep_stalled


# Imports go to the "default" queue (CELERY_TASK_DEFAULT_QUEUE); only model work is routed
# elsewhere (CELERY_TASK_ROUTES), which is where Celery wants queues named.
@shared_task(acks_late=True)
def run_import(job_id: int) -> None:
    import_job_run(job_id=job_id)


@shared_task
def sweep_stalled_jobs() -> dict:
    """Run by Celery beat (CELERY_BEAT_SCHEDULE): resend or fail jobs whose worker died."""
    return jobs_sweep_stalled()
