"""POST /api/v1/pipeline/score/ and /filter/: start a pipeline job (admins only)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.serializers import JobSerializer
from annotation.errors import QueueUnavailable
from annotation.permissions import IsAdmin
from pipeline import services


class ScoreRequestSerializer(serializers.Serializer):
    model = serializers.CharField(required=False, allow_blank=True)
    rescore = serializers.BooleanField(default=False)
    chunk_size = serializers.IntegerField(required=False, min_value=1, max_value=100_000)
    batch_size = serializers.IntegerField(required=False, min_value=1, max_value=4096)
    max_answer_tokens = serializers.IntegerField(required=False, min_value=1, max_value=32_768)


class FilterRequestSerializer(serializers.Serializer):
    min_ifd = serializers.FloatField(required=False, min_value=0)
    keep_top = serializers.FloatField(required=False, min_value=0, max_value=1)
    model = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs):
        if "min_ifd" in attrs and "keep_top" in attrs:
            raise serializers.ValidationError("give either min_ifd or keep_top, not both")
        return attrs


QUEUE_DOWN = OpenApiResponse(
    description="the task queue cannot be reached: the job was not started (it is failed)"
)


def _job_response(request, start, **kwargs) -> Response:
    try:
        job = start(user=request.user, **kwargs)
    except services.PipelineConfigError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    except QueueUnavailable as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    job.refresh_from_db()
    return Response(
        JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
    )


class ScoreStartView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=ScoreRequestSerializer, responses={202: JobSerializer, 503: QUEUE_DOWN})
    def post(self, request):
        params = ScoreRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        return _job_response(
            request,
            services.score_job_start,
            model=data.get("model") or None,
            rescore=data["rescore"],
            chunk_size=data.get("chunk_size"),
            batch_size=data.get("batch_size"),
            max_answer_tokens=data.get("max_answer_tokens"),
        )


class FilterStartView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=FilterRequestSerializer, responses={202: JobSerializer, 503: QUEUE_DOWN})
    def post(self, request):
        params = FilterRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        return _job_response(
            request,
            services.filter_job_start,
            min_ifd=data.get("min_ifd"),
            keep_top=data.get("keep_top"),
            model=data.get("model") or None,
        )
