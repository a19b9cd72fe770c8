"""Serializers more than one API module shows (a job: the jobs API, imports, pipelines; an
item: the items API and the review API)."""

import copy

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Categorization, Item, ItemRevision, Job, JobState
from ..selectors import ITEM_API_FIELDS, job_is_stalled, job_progress


@extend_schema_field(
    serializers.ChoiceField(choices=JobState.choices), component_name="JobStatusEnum"
)
class JobStatusField(serializers.ChoiceField):
    """A named schema component: an item's `status` and a job's are different enums, and two
    enums both called `status` would otherwise get a made-up name in the schema."""


CLASSES = [choice for choice in Categorization.choices if choice[0]]


@extend_schema_field(serializers.ChoiceField(choices=CLASSES), component_name="ClassEnum")
class ClassField(serializers.ChoiceField):
    """person, social or nation: what a reviewer may set (an item also shows "", unset)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=CLASSES, **kwargs)


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


# The selector loads these columns; the API names the ids and the reviewer without suffixes.
_API_NAMES = {
    "parent_id": "parent",
    "import_job_id": "import_job",
    "reviewer__username": "reviewer",
    "claimed_by__username": "claimed_by",
}


class FieldsOnceMixin:
    """Builds a ModelSerializer's fields from the model once per class, then copies them.

    DRF introspects the model for every serializer it makes (about 1 ms for an item), and
    review answers every decision with an item. Each serializer gets its own copies, unbound
    (binding sets the copy's name, parent, label and source). A plain field is copied
    shallowly: its state past binding (choices, validators) is only read. `deepcopy`, which
    re-runs every field's __init__, took 0.6 ms of CPU per item serialized (two per
    decision; 2.6 ms under cProfile); a shallow copy takes a tenth of that. Nested
    serializers (ItemDetailSerializer's revisions) are deep-copied, as DRF does.
    """

    def get_fields(self):
        cls = type(self)
        prototype = cls.__dict__.get("_fields_prototype")
        if prototype is None:
            prototype = super().get_fields()
            cls._fields_prototype = prototype
        return {
            name: copy.deepcopy(field)
            if isinstance(field, serializers.BaseSerializer)
            else copy.copy(field)
            for name, field in prototype.items()
        }


class ItemSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    reviewer = serializers.CharField(
        source="reviewer.username", read_only=True, allow_null=True, default=None
    )
    claimed_by = serializers.CharField(
        source="claimed_by.username",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="who holds the item in review (until claim_expires_at)",
    )
    # The ids, read from the row: no query for the related items.
    parent = serializers.IntegerField(source="parent_id", read_only=True, allow_null=True)
    import_job = serializers.IntegerField(source="import_job_id", read_only=True, allow_null=True)

    class Meta:
        model = Item
        fields = [_API_NAMES.get(name, name) for name in ITEM_API_FIELDS]
        read_only_fields = fields


class ItemRevisionSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    old = serializers.CharField(source="old_value", read_only=True)
    new = serializers.CharField(source="new_value", read_only=True)
    user = serializers.CharField(
        source="user.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = ItemRevision
        fields = ["field", "old", "new", "user", "version", "reason", "created_at"]
        read_only_fields = fields


class ItemDetailSerializer(ItemSerializer):
    revisions = ItemRevisionSerializer(many=True, read_only=True)

    class Meta(ItemSerializer.Meta):
        fields = [*ItemSerializer.Meta.fields, "revisions"]
        read_only_fields = fields
