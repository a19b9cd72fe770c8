"""GET /api/v1/export/: the VAD dataset as one streamed JSON array or JSON lines (SPEC §1)."""

from django.http import StreamingHttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from ..exporters import export_open
from ..filters import InvalidFilters
from ..models import Categorization, Source, Status
from ..permissions import IsAdmin


class JsonLinesRenderer(BaseRenderer):
    """Lets `?format=jsonl` through DRF's negotiation; the export itself streams past it."""

    media_type = "application/x-ndjson"
    format = "jsonl"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        # Only error bodies (401, 403, 400) are rendered here: one JSON line.
        return JSONRenderer().render(data) + b"\n"


class FormatParameterNegotiation(DefaultContentNegotiation):
    """`?format=` alone picks the renderer, whatever the Accept header says.

    An unknown format falls back to JSON here, so that authentication runs first and the
    view then answers 400 naming the parameter (DRF's default would be a 404 or a 406).
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        wanted = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        chosen = next((r for r in renderers if r.format == wanted), renderers[0])
        return chosen, chosen.media_type


class VadRecordSerializer(serializers.Serializer):
    """Documents an exported record; the exporter writes them without this serializer."""

    instruction = serializers.CharField()
    input = serializers.CharField(allow_blank=True)
    output = serializers.CharField()
    source = serializers.ChoiceField(choices=Source.choices)
    categorization = serializers.ChoiceField(choices=Categorization.choices)
    meta = serializers.DictField(
        required=False,
        help_text="with include=meta: id, ifd, ifd_ppl, reviewer, reviewed_at, license, origin",
    )


def _choices(choices) -> str:
    return ", ".join(value for value, _ in choices if value)


EXPORT_PARAMETERS = [
    OpenApiParameter("include", str, enum=["meta"], description="add the `meta` key"),
    OpenApiParameter(
        "status",
        str,
        description=f"default accepted; comma separated: {_choices(Status.choices)}",
    ),
    OpenApiParameter("source", str, description=f"comma separated: {_choices(Source.choices)}"),
    OpenApiParameter(
        "categorization",
        str,
        description=f"comma separated: {_choices(Categorization.choices)}",
    ),
    OpenApiParameter("min_ifd", float, description="unscored items never pass an IFD bound"),
    OpenApiParameter("max_ifd", float, description="unscored items never pass an IFD bound"),
    OpenApiParameter("updated_after", OpenApiTypes.DATETIME, description="ISO 8601"),
]


class ExportApi(APIView):
    permission_classes = [IsAdmin]
    renderer_classes = [JSONRenderer, JsonLinesRenderer]
    content_negotiation_class = FormatParameterNegotiation

    @extend_schema(
        operation_id="export_items",
        parameters=EXPORT_PARAMETERS,
        responses={
            200: OpenApiResponse(
                VadRecordSerializer(many=True),
                description="json: one array; jsonl: one record a line. Streamed, in item id "
                "order; only accepted items unless `status` says otherwise.",
            )
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        include = request.query_params.get("include", "")
        if include not in ("", "meta"):
            raise ValidationError({"include": [f"{include!r} is not 'meta'."]})
        try:
            export = export_open(
                fmt=request.query_params.get("format", "json"),
                filters=request.query_params,
                include_meta=include == "meta",
                user=request.user,
            )
        except InvalidFilters as error:
            raise ValidationError(error.errors) from error
        response = StreamingHttpResponse(
            export.chunks(), content_type=f"{export.format.media_type}; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        response["Cache-Control"] = "no-store"
        # Proxies such as nginx would otherwise buffer the whole export before sending it.
        response["X-Accel-Buffering"] = "no"
        return response


urlpatterns = [path("export/", ExportApi.as_view(), name="api-export")]
