"""Serializers more than one API module shows (a job: the jobs API, imports, pipelines)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Job, JobState
from ..selectors import job_is_stalled, job_progress


@extend_schema_field(
    serializers.ChoiceField(choices=JobState.choices), component_name="JobStatusEnum"
)
class JobStatusField(serializers.ChoiceField):
    """A named schema component: an item's `status` and a job's are different enums, and two
    enums both called `status` would otherwise get a made-up name in the schema."""


class JobSerializer(serializers.ModelSerializer):
    """A job with live progress: a running import publishes done/total outside its transaction,
    so they come from selectors.job_progress rather than the row."""

    status = JobStatusField(choices=JobState.choices, read_only=True)
    done = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    percent = serializers.SerializerMethodField()
    stalled = serializers.SerializerMethodField()
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "params",
            "status",
            "done",
            "total",
            "percent",
            "stalled",
            "heartbeat_at",
            "error",
            "report",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _progress(self, job: Job) -> tuple[int, int]:
        # One cache read per job and response, though three fields use it.
        cached = getattr(job, "_api_progress", None)
        if cached is None:
            cached = job._api_progress = job_progress(job=job)
        return cached

    @extend_schema_field(serializers.IntegerField())
    def get_done(self, job: Job) -> int:
        return self._progress(job)[0]

    @extend_schema_field(serializers.IntegerField())
    def get_total(self, job: Job) -> int:
        return self._progress(job)[1]

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_percent(self, job: Job) -> float | None:
        """0–100 with one decimal; null while the total is not known yet."""
        done, total = self._progress(job)
        if total:
            return round(min(done, total) * 100 / total, 1)
        return 100.0 if job.status == Job.State.SUCCEEDED else None

    @extend_schema_field(serializers.BooleanField())
    def get_stalled(self, job: Job) -> bool:
        """Running without a heartbeat for VAD_JOB_STALL_SECONDS (its worker is probably
        gone; the sweep sends it again or fails it). A label, not a status."""
        return job_is_stalled(job=job)
