"""Thin Celery wrappers: each calls one service, which is idempotent."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def score_chunk(*, job_id: int, chunk_index: int) -> int:
    return services.score_chunk_run(job_id=job_id, chunk_index=chunk_index)


@shared_task(acks_late=True)
def filter_items(*, job_id: int) -> dict:
    return services.filter_run(job_id=job_id)


@shared_task(acks_late=True)  # queue gpu: CELERY_TASK_ROUTES
def translate_chunk(*, job_id: int, chunk_index: int) -> int:
    return services.translate_chunk_run(job_id=job_id, chunk_index=chunk_index)


@shared_task(acks_late=True)  # queue gpu: CELERY_TASK_ROUTES
def evolve_chunk(*, job_id: int, chunk_index: int) -> int:
    return services.evolve_chunk_run(job_id=job_id, chunk_index=chunk_index)
