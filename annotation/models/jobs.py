"""Jobs (SPEC §5): imports, pipeline runs and their chunks; the log of streamed exports."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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

    kind = models.CharField(
        max_length=16, choices=JobKind.choices, verbose_name=pgettext_lazy("model field", "kind")
    )
    params = models.JSONField(
        default=dict, blank=True, verbose_name=pgettext_lazy("model field", "params")
    )
    status = models.CharField(
        max_length=16,
        choices=JobState.choices,
        default=JobState.QUEUED,
        verbose_name=pgettext_lazy("model field", "status"),
    )
    done = models.PositiveIntegerField(default=0, verbose_name=pgettext_lazy("model field", "done"))
    total = models.PositiveIntegerField(
        default=0, verbose_name=pgettext_lazy("model field", "total")
    )
    error = models.TextField(
        blank=True, default="", verbose_name=pgettext_lazy("model field", "error")
    )
    report = models.JSONField(
        default=dict, blank=True, verbose_name=pgettext_lazy("model field", "report")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=pgettext_lazy("model field", "created by"),
    )
    created_at = models.DateTimeField(
        auto_now_add=True, verbose_name=pgettext_lazy("model field", "created at")
    )
    started_at = models.DateTimeField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "started at")
    )
    finished_at = models.DateTimeField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "finished at")
    )
    updated_at = models.DateTimeField(
        auto_now=True, verbose_name=pgettext_lazy("model field", "updated at")
    )
    # The last sign of life of the worker running the job (services.job_heartbeat). A running
    # job without one for VAD_JOB_STALL_SECONDS is *stalled* (selectors.job_is_stalled): a
    # label derived from this, not a status.
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "heartbeat at")
    )

    class Meta:
        verbose_name = pgettext_lazy("model", "job")
        verbose_name_plural = pgettext_lazy("model", "jobs")
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

    job = models.ForeignKey(
        Job,
        on_delete=models.CASCADE,
        related_name="chunks",
        verbose_name=pgettext_lazy("model field", "job"),
    )
    index = models.PositiveIntegerField(verbose_name=pgettext_lazy("model field", "index"))
    item_ids = models.JSONField(default=list, verbose_name=pgettext_lazy("model field", "item ids"))
    done = models.BooleanField(default=False, verbose_name=pgettext_lazy("model field", "done"))
    attempts = models.PositiveIntegerField(
        default=0, verbose_name=pgettext_lazy("model field", "attempts")
    )
    finished_at = models.DateTimeField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "finished at")
    )

    class Meta:
        verbose_name = pgettext_lazy("model", "job chunk")
        verbose_name_plural = pgettext_lazy("model", "job chunks")
        ordering = ["job_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="jobchunk_unique_index"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} chunk {self.index}"


class ExportLog(models.Model):
    """Streamed exports are not jobs, but who exported what is kept (SPEC §5)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=pgettext_lazy("model field", "user"),
    )
    format = models.CharField(max_length=8, verbose_name=pgettext_lazy("model field", "format"))
    filters = models.JSONField(
        default=dict, blank=True, verbose_name=pgettext_lazy("model field", "filters")
    )
    count = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "count")
    )
    completed = models.BooleanField(
        default=False, verbose_name=pgettext_lazy("model field", "completed")
    )
    created_at = models.DateTimeField(
        auto_now_add=True, verbose_name=pgettext_lazy("model field", "created at")
    )

    class Meta:
        verbose_name = pgettext_lazy("model", "export log")
        verbose_name_plural = pgettext_lazy("model", "export logs")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.format} export #{self.pk} by {self.user_id}"
