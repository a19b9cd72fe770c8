"""GET /api/v1/: what the API offers, read from the URL configuration (like DRF's root view).

Every endpoint under /api/v1/ with its methods, plus the OpenAPI schema and its docs page,
so a script can find its way from the root without reading the source.
"""

from functools import cache

from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.generators import EndpointEnumerator
from rest_framework.views import APIView

from ..permissions import IsAdminOrReviewer

API_PREFIX = "/api/v1/"


@cache
def api_endpoints() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(path, methods) for every endpoint under /api/v1/, in path order."""
    methods: dict[str, list[str]] = {}
    for path, method, _view in EndpointEnumerator().get_api_endpoints():
        if path.startswith(API_PREFIX) and path != API_PREFIX:
            methods.setdefault(path, []).append(method)
    return tuple((path, tuple(sorted(set(m)))) for path, m in sorted(methods.items()))


class ApiRootView(APIView):
    permission_classes = [IsAdminOrReviewer]

    @extend_schema(
        summary="The API's endpoints",
        responses=inline_serializer(
            "ApiRoot",
            {
                "schema": serializers.URLField(),
                "docs": serializers.URLField(),
                "endpoints": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "schema": request.build_absolute_uri(reverse("api-schema")),
                "docs": request.build_absolute_uri(reverse("api-docs")),
                "endpoints": [
                    {"path": path, "methods": list(methods)} for path, methods in api_endpoints()
                ],
            }
        )
