"""Import jobs: created for an upload or a server file, run by a task or the command."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction

from ...errors import ImportRejected
from ...models import Job
from ..jobs import job_create, job_fail, job_start, job_succeed
from .report import ImportCancelled, ImportFileRejected, ProgressCallback
from .request import ImportRequest
from .run import import_file
from .uploads import upload_delete, upload_store

# Namespace of the PostgreSQL advisory locks that keep two workers off the same import job.
JOB_LOCK_CLASS = 0x56414449  # "VADI"


@transaction.atomic
def import_job_create(
    *,
    request: ImportRequest,
    uploaded_file: UploadedFile | None = None,
    user=None,
    enqueue: bool = True,
) -> Job:
    """An import job for `request`: with `uploaded_file`, the upload is stored (under
    MEDIA_ROOT/imports/<job id>/) and imported instead of `request.path`, then deleted when
    the job has finished; otherwise `request.path` is a file on the server. With enqueue,
    the import task starts once the job is committed."""
    job = job_create(kind=Job.Kind.IMPORT, params={}, user=user)
    if uploaded_file is not None:
        stored = upload_store(job_id=job.pk, uploaded_file=uploaded_file)
        request = replace(request, path=str(stored), file_name=stored.name, upload=True)
    else:  # named as given, read from where the worker finds it
        resolved = str(Path(request.path).resolve())
        request = replace(request, path=resolved, file_name=request.name, upload=False)
    job.params = request.as_params()
    job.save(update_fields=["params", "updated_at"])
    if enqueue:
        from ...tasks import run_import  # the task module imports the services
        from ..job_liveness import job_send_on_commit  # that module reads JOB_LOCK_CLASS

        job_id = job.pk
        job_send_on_commit(job_id=job_id, send=lambda: run_import.delay(job_id))
    return job


def _lock_job(job_id: int) -> bool:
    """Hold the job for this transaction; False when another worker runs it already."""
    if connection.vendor != "postgresql":
        return True  # the quick start runs tasks in-process, one at a time
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [JOB_LOCK_CLASS, job_id % 2**31])
        return bool(cursor.fetchone()[0])


def import_job_run(*, job_id: int, on_progress: ProgressCallback | None = None) -> Job:
    """Run an import job. Safe to run twice: a finished job is left as it is, and the items
    and the job's success commit together, so a worker killed midway leaves nothing.

    Not one atomic block as a whole: "running" must commit before the import's long
    transaction begins, and a failure must be recorded after that transaction rolled back.
    An uploaded file is deleted once the job has finished, whatever the outcome.
    """
    job = Job.objects.get(pk=job_id, kind=Job.Kind.IMPORT)
    if job.is_finished:
        return job
    job = job_start(job_id=job_id)
    request = ImportRequest.from_params(job.params)
    try:
        job = _run(job=job, request=request, on_progress=on_progress)
    finally:
        if request.upload and Job.objects.get(pk=job_id).is_finished:
            upload_delete(job_id=job_id)
    return job


def _run(*, job: Job, request: ImportRequest, on_progress: ProgressCallback | None) -> Job:
    job_id = job.pk
    try:
        with transaction.atomic():
            if not _lock_job(job_id):
                return job
            report = import_file(
                request=request, user=job.created_by, job=job, on_progress=on_progress
            )
            # A cancel that came after the last batch still wins: it undoes the import.
            if Job.objects.select_for_update().get(pk=job_id).status == Job.State.CANCELLED:
                raise ImportCancelled(f"import job {job_id} was cancelled")
            Job.objects.filter(pk=job_id).update(total=report.read)
            return job_succeed(job_id=job_id, report=report.as_dict(), done=report.read)
    except ImportFileRejected as exc:
        return job_fail(job_id=job_id, error=str(exc), report=exc.report_dict())
    except ImportRejected as exc:
        report = {"errors": [error.as_dict() for error in exc.errors]}
        return job_fail(job_id=job_id, error=str(exc), report=report)
    except ImportCancelled:
        return Job.objects.get(pk=job_id)
    except Exception as exc:
        job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        raise
