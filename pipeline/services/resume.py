"""Resuming a pipeline job: the job services decide whether it may, its sender queues the rest."""

from annotation.errors import JobNotResumable
from annotation.models import Job
from annotation.services import job_resume

from .errors import PipelineConfigError


def pipeline_job_resume(*, job_id: int, kind: str, user=None) -> Job:
    """Queue again the chunks of a `kind` job that are not done (after a worker was lost, or
    after a chunk failed: done chunks stay done)."""
    job = Job.objects.get(pk=job_id)
    if job.kind != kind:
        raise PipelineConfigError(f"job {job_id} is a {job.kind} job, not a {kind} job")
    try:
        job = job_resume(job_id=job_id, user=user)
    except JobNotResumable as exc:
        raise PipelineConfigError(str(exc)) from exc
    job.refresh_from_db()
    return job
