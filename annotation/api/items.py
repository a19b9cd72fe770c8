"""GET /api/v1/items/ and /api/v1/items/{id}/: items for reviewers and admins;
PATCH /api/v1/items/{id}/: an edit or a classification (SPEC §7.1)."""

from django.urls import path
from django.utils.translation import gettext
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..filters import ItemFilter
from ..models import Item
from ..permissions import IsAdminOrReviewer
from ..selectors import item_detail, item_list
from ..services import item_classify, item_edit
from .pagination import CheckedCursorPagination
from .review import VERSION_HELP, WRITE_RESPONSES, item_write, parse
from .serializers import ClassField, ItemDetailSerializer, ItemSerializer


class ItemPatchSerializer(serializers.Serializer):
    """Text is taken exactly as sent: never trimmed (SPEC §1)."""

    version = serializers.IntegerField(min_value=1, help_text=VERSION_HELP)
    instruction = serializers.CharField(required=False, trim_whitespace=False)
    input = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    output = serializers.CharField(required=False, trim_whitespace=False)
    categorization = ClassField(required=False, help_text="needed when the item has no class yet")


class ItemCursorPagination(CheckedCursorPagination):
    # Cursor pagination stays fast and exact at any depth while items are being added.
    ordering = "id"


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

    @extend_schema(
        summary="Edit the text or set the class (a revision per changed field)",
        request=ItemPatchSerializer,
        responses=WRITE_RESPONSES,
    )
    def patch(self, request: Request, item_id: int) -> Response:
        data = dict(parse(ItemPatchSerializer, request))
        version = data.pop("version")
        if not data:
            raise ValidationError({"non_field_errors": [gettext("Nothing to change.")]})
        if set(data) == {"categorization"}:
            return item_write(
                lambda: item_classify(
                    item_id=item_id,
                    user=request.user,
                    version=version,
                    categorization=data["categorization"],
                )
            )
        return item_write(
            lambda: item_edit(item_id=item_id, user=request.user, version=version, changes=data)
        )


urlpatterns = [
    path("items/", ItemListApi.as_view(), name="api-item-list"),
    path("items/<int:item_id>/", ItemDetailApi.as_view(), name="api-item-detail"),
]
