"""Jobs (SPEC §5): imports, pipeline runs and their chunks; the log of streamed exports."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .items import in_choices


class JobKind(models.TextChoices):
    IMPORT = "import", _("import")
    TRANSLATE = "translate", _("translate")
    EVOLVE = "evolve", _("evolve")
    SCORE = "score", _("score")
    FILTER = "filter", _("filter")
    BULK_ACTION = "bulk_action", _("bulk action")
    RELEASE = "release", _("release")
    ROLLBACK = "rollback", _("rollback")


class JobState(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


class Job(models.Model):
    Kind = JobKind
    State = JobState
    FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)

    kind = models.CharField(max_length=16, choices=JobKind.choices)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    report = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The last sign of life of the worker running the job (services.job_heartbeat). A running
    # job without one for VAD_JOB_STALL_SECONDS is *stalled* (selectors.job_is_stalled): a
    # label derived from this, not a status.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=in_choices("kind", JobKind), name="job_kind_valid"),
            models.CheckConstraint(
                condition=in_choices("status", JobState), name="job_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["kind", "status"], name="job_kind_status")]

    def __str__(self) -> str:
        return f"{self.kind} job #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED_STATES


class JobChunk(models.Model):
    """A slice of a pipeline job's work that commits on its own.

    A chunk is marked done in the same transaction as its writes, so a redelivered task
    (a killed worker, acks_late) finds it done and neither duplicates work nor progress.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    item_ids = models.JSONField(default=list)
    done = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="jobchunk_unique_index"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} chunk {self.index}"


class ExportLog(models.Model):
    """Streamed exports are not jobs, but who exported what is kept (SPEC §5)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    format = models.CharField(max_length=8)
    filters = models.JSONField(default=dict, blank=True)
    count = models.PositiveIntegerField(null=True, blank=True)
    completed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.format} export #{self.pk} by {self.user_id}"
