"""POST /api/v1/pipeline/translate/, /evolve/, /retranslate/, /reanswer/ (admins only).

Each starts a job on queue gpu and answers 202 with it; a run that cannot start (no model
configured, an unknown operation, an item that cannot be redone) answers 400 with `detail`.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from annotation.api.serializers import JobSerializer
from annotation.permissions import IsAdmin
from pipeline import services

from .views import _job_response as job_response  # one place maps errors to 400s


class TranslateRequestSerializer(serializers.Serializer):
    model = serializers.CharField(required=False, allow_blank=True)
    chunk_size = serializers.IntegerField(required=False, min_value=1, max_value=100_000)
    item_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=100_000
    )


class EvolveRequestSerializer(serializers.Serializer):
    rounds = serializers.IntegerField(min_value=1, max_value=10)
    ops = serializers.ListField(child=serializers.CharField(), min_length=1)
    all_ops = serializers.BooleanField(default=False)
    model = serializers.CharField(required=False, allow_blank=True)
    rules = serializers.ListField(child=serializers.CharField(), required=False)
    chunk_size = serializers.IntegerField(required=False, min_value=1, max_value=10_000)
    item_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=100_000
    )

    def to_internal_value(self, data):
        # `ops` may also come as one comma-separated string, as on the command line.
        if hasattr(data, "get") and isinstance(data.get("ops"), str):
            data = {**data, "ops": [op for op in data["ops"].split(",") if op.strip()]}
        return super().to_internal_value(data)


class RedoRequestSerializer(serializers.Serializer):
    item_id = serializers.IntegerField(min_value=1)
    model = serializers.CharField(required=False, allow_blank=True)


class TranslateStartView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=TranslateRequestSerializer, responses={202: JobSerializer})
    def post(self, request):
        params = TranslateRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        return job_response(
            request,
            services.translate_job_start,
            model=data.get("model") or None,
            chunk_size=data.get("chunk_size"),
            item_ids=data.get("item_ids"),
        )


class EvolveStartView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=EvolveRequestSerializer, responses={202: JobSerializer})
    def post(self, request):
        params = EvolveRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        return job_response(
            request,
            services.evolve_job_start,
            rounds=data["rounds"],
            ops=data["ops"],
            all_ops=data["all_ops"],
            model=data.get("model") or None,
            rules=data.get("rules"),
            chunk_size=data.get("chunk_size"),
            item_ids=data.get("item_ids"),
        )


class RetranslateView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=RedoRequestSerializer, responses={202: JobSerializer})
    def post(self, request):
        params = RedoRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        return job_response(
            request,
            services.retranslate_item_start,
            item_id=data["item_id"],
            model=data.get("model") or None,
        )


class ReanswerView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=RedoRequestSerializer, responses={202: JobSerializer})
    def post(self, request):
        params = RedoRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        return job_response(
            request,
            services.reanswer_item_start,
            item_id=data["item_id"],
            model=data.get("model") or None,
        )
