"""Rolling back an import: deleting its items while none has been reviewed or built upon.

Deleting a few hundred thousand items takes longer than a web request may (31 s for 300k),
so the API and the command start a rollback job (kind `rollback`), which a task runs.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ...errors import RollbackRefused
from ...models import REVIEWED_STATUSES, Item, ItemRevision, Job
from ..jobs import job_create, job_fail, job_start, job_succeed


def _rollback_refusal(job: Job) -> str | None:
    """Why this import may not be rolled back, or None when it may."""
    if job.kind != Job.Kind.IMPORT:
        return f"job {job.pk} is a {job.kind} job, not an import"
    rollback = job.report.get("rollback")
    if rollback:
        return f"import {job.pk} was already rolled back ({rollback.get('at')})"
    if job.status != Job.State.SUCCEEDED:
        return f"import {job.pk} has status {job.status}: it wrote nothing to roll back"
    if job.params.get("dry_run"):
        return f"import {job.pk} was a dry run: it wrote nothing"
    items = Item.objects.filter(import_job_id=job.pk)
    reviewed = items.filter(
        Q(reviewer__isnull=False) | Q(reviewed_at__isnull=False) | Q(status__in=REVIEWED_STATUSES)
    ).values_list("pk", flat=True)
    edited = (
        ItemRevision.objects.filter(item__import_job_id=job.pk, user__isnull=False)
        .values_list("item_id", flat=True)
        .distinct()
    )
    children = (
        Item.objects.filter(parent__import_job_id=job.pk)
        .exclude(import_job_id=job.pk)
        .values_list("pk", flat=True)
    )
    for ids, what in (
        (reviewed, "have been reviewed"),
        (edited, "have been changed by a person"),
        (children, "are items derived from this import's items"),
    ):
        found = list(ids[:6])
        if found:
            shown = ", ".join(str(i) for i in found[:5]) + (", ..." if len(found) > 5 else "")
            return f"import {job.pk} cannot be rolled back: items {shown} {what}"
    return None


@transaction.atomic
def import_rollback(*, job_id: int, user=None) -> int:
    """Delete every item of an import, while none has been reviewed or built upon, in one
    transaction. Returns how many items were deleted; raises RollbackRefused saying why
    otherwise. Long for a large import: requests start a job instead (import_rollback_start).
    """
    job = Job.objects.select_for_update().get(pk=job_id)
    # Lock the items first so a reviewer cannot accept one between the check and the delete.
    list(Item.objects.select_for_update().filter(import_job_id=job_id).values_list("pk", flat=True))
    refusal = _rollback_refusal(job)
    if refusal:
        raise RollbackRefused(refusal)
    # only("pk"): the delete collector need not load every item's text into memory.
    _total, per_model = Item.objects.filter(import_job_id=job_id).only("pk").delete()
    items_deleted = per_model.get(Item._meta.label, 0)
    job.report = {
        **job.report,
        "rollback": {
            "at": timezone.now().isoformat(),
            "by": getattr(user, "username", None),
            "deleted": items_deleted,
        },
    }
    job.save(update_fields=["report", "updated_at"])
    return items_deleted


@transaction.atomic
def import_rollback_start(*, job_id: int, user=None, enqueue: bool = True) -> Job:
    """A rollback job for import `job_id`, run by a task once committed (with enqueue).

    Refuses now, with RollbackRefused, what the job would refuse (a reviewed item, ...), so
    the caller hears at once; the job checks again under lock. Starting a rollback of an
    import that has one queued or running returns that job. Raises Job.DoesNotExist when
    there is no such import.
    """
    import_job = Job.objects.select_for_update().get(pk=job_id, kind=Job.Kind.IMPORT)
    running = Job.objects.filter(
        kind=Job.Kind.ROLLBACK,
        params__import_job=job_id,
        status__in=[Job.State.QUEUED, Job.State.RUNNING],
    ).first()
    if running is not None:
        return running
    refusal = _rollback_refusal(import_job)
    if refusal:
        raise RollbackRefused(refusal)
    total = Item.objects.filter(import_job_id=job_id).count()
    job = job_create(kind=Job.Kind.ROLLBACK, params={"import_job": job_id}, user=user, total=total)
    if enqueue:
        from ...tasks import run_rollback  # the task module imports the services
        from ..job_liveness import job_send_on_commit

        rollback_id = job.pk
        job_send_on_commit(job_id=rollback_id, send=lambda: run_rollback.delay(rollback_id))
    return job


def import_rollback_run(*, job_id: int) -> Job:
    """Run a rollback job: the import's items are deleted and the job succeeds, in one
    transaction, or the job fails saying why nothing was deleted. Safe to run twice."""
    job = Job.objects.get(pk=job_id, kind=Job.Kind.ROLLBACK)
    if job.is_finished:
        return job
    job = job_start(job_id=job_id)
    import_job_id = job.params["import_job"]
    try:
        with transaction.atomic():
            deleted = import_rollback(job_id=import_job_id, user=job.created_by)
            report = {"import_job": import_job_id, "deleted": deleted}
            return job_succeed(job_id=job_id, report=report, done=deleted)
    except RollbackRefused as exc:
        return job_fail(job_id=job_id, error=str(exc))
