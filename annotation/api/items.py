"""GET /api/v1/items/ and /api/v1/items/{id}/: items for reviewers and admins (read-only)."""

from django.urls import path
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..filters import ItemFilter
from ..models import Item, ItemRevision
from ..permissions import IsAdminOrReviewer
from ..selectors import ITEM_API_FIELDS, item_detail, item_list
from .pagination import CheckedCursorPagination

# The selector loads these columns; the API names the ids and the reviewer without suffixes.
_API_NAMES = {
    "parent_id": "parent",
    "import_job_id": "import_job",
    "reviewer__username": "reviewer",
}


class ItemCursorPagination(CheckedCursorPagination):
    # Cursor pagination stays fast and exact at any depth while items are being added.
    ordering = "id"


class ItemSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(
        source="reviewer.username", read_only=True, allow_null=True, default=None
    )
    # The ids, read from the row: no query for the related items.
    parent = serializers.IntegerField(source="parent_id", read_only=True, allow_null=True)
    import_job = serializers.IntegerField(source="import_job_id", read_only=True, allow_null=True)

    class Meta:
        model = Item
        fields = [_API_NAMES.get(name, name) for name in ITEM_API_FIELDS]
        read_only_fields = fields


class ItemRevisionSerializer(serializers.ModelSerializer):
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


class ItemListApi(ListAPIView):
    permission_classes = [IsAdminOrReviewer]
    serializer_class = ItemSerializer
    pagination_class = ItemCursorPagination
    # The backend applies ItemFilter (400 naming a bad parameter) and documents it in the
    # schema; selectors.item_list applies the same FilterSet for callers outside the API.
    filter_backends = [DjangoFilterBackend]
    filterset_class = ItemFilter

    def get_queryset(self):
        return item_list()


class ItemDetailApi(APIView):
    permission_classes = [IsAdminOrReviewer]

    @extend_schema(responses=ItemDetailSerializer)
    def get(self, request: Request, item_id: int) -> Response:
        try:
            item = item_detail(item_id=item_id)
        except Item.DoesNotExist as missing:
            raise NotFound(f"item {item_id} does not exist") from missing
        return Response(ItemDetailSerializer(item).data)


urlpatterns = [
    path("items/", ItemListApi.as_view(), name="api-item-list"),
    path("items/<int:item_id>/", ItemDetailApi.as_view(), name="api-item-detail"),
]
