"""POST /api/v1/imports/ (upload a dataset file) and POST /api/v1/imports/{id}/rollback/.

Admins only. The upload is stored and imported by a task, and a rollback is a job a task
runs; each answers the job, whose progress and report GET /api/v1/jobs/{id}/ shows.
"""

from django.urls import NoReverseMatch, path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..errors import QueueUnavailable, RollbackRefused
from ..importers import FORMATS, UnknownFormat, get_format, resolve_rule
from ..models import Job
from ..permissions import IsAdmin
from ..services import ImportRequest, UploadTooLarge, import_job_create, import_rollback_start
from .serializers import JobSerializer


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A file in a multipart request: binary in the schema, not the URL a response shows."""


class ImportUploadSerializer(serializers.Serializer):
    file = UploadField(help_text="JSON lines, a JSON array, or Parquet (UTF-8)")
    format = serializers.ChoiceField(choices=sorted(FORMATS))
    rule = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="selection rule; saferlhf: safe-better (default) or safe",
    )
    skip_invalid = serializers.BooleanField(
        required=False, default=False, help_text="skip bad rows and list them in the report"
    )
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="validate and count, write nothing"
    )
    config = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="dataset configuration, e.g. Alpaca-7B",
    )
    split = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="dataset split, e.g. test"
    )

    def validate(self, attrs: dict) -> dict:
        try:
            attrs["rule"] = resolve_rule(get_format(attrs["format"]), attrs.get("rule"))
        except UnknownFormat as exc:
            raise serializers.ValidationError({"rule": [str(exc)]}) from None
        return attrs


def job_url(request: Request, job_id: int) -> str:
    try:
        location = reverse("api-job-detail", kwargs={"job_id": job_id})
    except NoReverseMatch:  # the jobs API is another module; its path is fixed by SPEC §5
        location = f"/api/v1/jobs/{job_id}/"
    return request.build_absolute_uri(location)


class ImportJobSerializer(JobSerializer):
    url = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "url"]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_url(self, job: Job) -> str:
        return job_url(self.context["request"], job.pk)


class ImportCreateApi(APIView):
    permission_classes = [IsAdmin]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Upload a dataset file and start importing it",
        request={"multipart/form-data": ImportUploadSerializer},
        responses={
            201: ImportJobSerializer,
            400: OpenApiResponse(description="a missing file, or an unknown format or rule"),
            413: OpenApiResponse(description="the file is over VAD_UPLOAD_MAX_BYTES"),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = ImportUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        import_request = ImportRequest(
            path="",  # the upload's, once stored
            format=data["format"],
            rule=data["rule"],
            skip_invalid=data["skip_invalid"],
            dry_run=data["dry_run"],
            config=data.get("config") or None,
            split=data.get("split") or None,
        )
        try:
            job = import_job_create(
                request=import_request, uploaded_file=data["file"], user=request.user
            )
        except UploadTooLarge as exc:
            return Response({"file": [str(exc)]}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        except QueueUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        job.refresh_from_db()  # with eager tasks (the quick start) the import has run already
        body = ImportJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class ImportRollbackApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        summary="Start deleting every item of an import, while none has been reviewed",
        description="The deletion runs as a job (kind `rollback`); its report counts the "
        "deleted items. An import with a rollback under way answers that job.",
        request=None,
        responses={
            202: ImportJobSerializer,
            404: OpenApiResponse(description="no import job with this id"),
            409: OpenApiResponse(description="refused; `detail` says why"),
        },
    )
    def post(self, request: Request, job_id: int) -> Response:
        try:
            job = import_rollback_start(job_id=job_id, user=request.user)
        except Job.DoesNotExist:
            raise NotFound(f"import job {job_id} does not exist") from None
        except RollbackRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except QueueUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        job.refresh_from_db()  # with eager tasks (the quick start) it has run already
        body = ImportJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


urlpatterns = [
    path("imports/", ImportCreateApi.as_view(), name="api-import-create"),
    path("imports/<int:job_id>/rollback/", ImportRollbackApi.as_view(), name="api-import-rollback"),
]
