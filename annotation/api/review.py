"""Review through the API (SPEC §7.1): claim, accept, reject, skip and undo.

Each view parses its body, calls one service and answers with the item. The errors of the
review services all answer the same way here (`item_write`): a stale version, another
reviewer's claim, a duplicate, nothing to undo, a status that does not allow the decision ->
409 with a `code`; a stale version also carries the current item under `current`.
"""

from collections.abc import Callable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..errors import ClaimedByOther, DuplicateContent, NothingToUndo, StaleEdit
from ..filters import InvalidFilters, ReviewQueueFilter
from ..lifecycle import InvalidTransition
from ..models import Item
from ..permissions import IsAdminOrReviewer
from ..review_reasons import REJECT_REASONS
from ..selectors import item_list
from ..services import item_accept, item_reject, item_skip, item_undo, review_claim
from .serializers import ClassField, ItemSerializer


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="what happened, in the reader's language")
    code = serializers.ChoiceField(
        choices=["stale", "claimed", "duplicate", "nothing_to_undo", "invalid_transition"]
    )
    current = ItemSerializer(required=False, help_text="code stale: the item as it is now")
    holder = serializers.CharField(required=False, help_text="code claimed: who holds it")
    claim_expires_at = serializers.DateTimeField(required=False)
    other_id = serializers.IntegerField(required=False, help_text="code duplicate: the twin")


WRITE_RESPONSES = {
    200: ItemSerializer,
    400: OpenApiResponse(description="a missing or invalid field, named"),
    404: OpenApiResponse(description="no such item"),
    409: OpenApiResponse(
        ConflictSerializer,
        description="stale version (with `current`), held by another reviewer, a duplicate, "
        "or a status that does not allow it",
    ),
}


def _conflict(error: Exception, code: str, **extra) -> Response:
    return Response({"detail": str(error), "code": code, **extra}, status=status.HTTP_409_CONFLICT)


def item_write(write: Callable[[], Item | None], *, empty_status: int = 204) -> Response:
    """Run one review write and turn its outcome into the response SPEC §7.1 gives."""
    try:
        item = write()
    except Item.DoesNotExist as missing:
        raise NotFound(str(missing)) from missing
    except StaleEdit as error:
        current = item_list().get(pk=error.item_id)
        return _conflict(error, "stale", current=ItemSerializer(current).data)
    except ClaimedByOther as error:
        return _conflict(error, "claimed", holder=error.holder, claim_expires_at=error.expires_at)
    except DuplicateContent as error:
        return _conflict(error, "duplicate", other_id=error.other_id)
    except NothingToUndo as error:
        return _conflict(error, "nothing_to_undo")
    except InvalidTransition as error:
        return _conflict(error, "invalid_transition")
    except DjangoValidationError as error:
        raise ValidationError(
            error.message_dict if hasattr(error, "error_dict") else error.messages
        ) from error
    except InvalidFilters as error:
        raise ValidationError(error.errors) from error
    if item is None:
        return Response(status=empty_status)
    return Response(ItemSerializer(item).data)


def parse(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


VERSION_HELP = "the version the client last saw"


class AcceptSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text=VERSION_HELP)
    categorization = ClassField(required=False, help_text="needed when the item has no class yet")


class RejectSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text=VERSION_HELP)
    reason = serializers.CharField(
        max_length=2000,
        help_text="one of " + ", ".join(code for code, _ in REJECT_REASONS) + ", or any text",
    )


class SkipSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, required=False, help_text=VERSION_HELP)


def _queue_parameters() -> list[OpenApiParameter]:
    parameters = [
        OpenApiParameter(name, str, description=getattr(f, "extra", {}).get("help_text", ""))
        for name, f in ReviewQueueFilter.base_filters.items()
    ]
    parameters.append(OpenApiParameter("saved_filter", int, description="the id of a saved filter"))
    return parameters


class ReviewClaimApi(APIView):
    permission_classes = [IsAdminOrReviewer]

    @extend_schema(
        summary="The item this user holds, or the next one claimed for them",
        request=None,
        parameters=_queue_parameters(),
        responses={
            200: ItemSerializer,
            204: OpenApiResponse(description="the queue is empty"),
            400: OpenApiResponse(description="a filter that does not parse, named"),
        },
    )
    def post(self, request: Request) -> Response:
        return item_write(lambda: review_claim(reviewer=request.user, filters=request.query_params))


class ItemAcceptApi(APIView):
    permission_classes = [IsAdminOrReviewer]

    @extend_schema(
        summary="Accept an item (400 when it has no class and none is given)",
        request=AcceptSerializer,
        responses=WRITE_RESPONSES,
    )
    def post(self, request: Request, item_id: int) -> Response:
        data = parse(AcceptSerializer, request)
        return item_write(
            lambda: item_accept(
                item_id=item_id,
                reviewer=request.user,
                version=data["version"],
                categorization=data.get("categorization", ""),
            )
        )


class ItemRejectApi(APIView):
    permission_classes = [IsAdminOrReviewer]

    @extend_schema(
        summary="Reject an item, saying why", request=RejectSerializer, responses=WRITE_RESPONSES
    )
    def post(self, request: Request, item_id: int) -> Response:
        data = parse(RejectSerializer, request)
        return item_write(
            lambda: item_reject(
                item_id=item_id,
                reviewer=request.user,
                version=data["version"],
                reason=data["reason"],
            )
        )


class ItemSkipApi(APIView):
    permission_classes = [IsAdminOrReviewer]

    @extend_schema(
        summary="Give the item back; it goes to the back of this user's queue",
        request=SkipSerializer,
        responses={**WRITE_RESPONSES, 200: None, 204: OpenApiResponse(description="skipped")},
    )
    def post(self, request: Request, item_id: int) -> Response:
        data = parse(SkipSerializer, request)
        return item_write(
            lambda: item_skip(item_id=item_id, reviewer=request.user, version=data.get("version"))
        )


class ItemUndoApi(APIView):
    permission_classes = [IsAdminOrReviewer]

    @extend_schema(
        summary="Undo this user's last decision on the item; it comes back held by them",
        request=None,
        responses=WRITE_RESPONSES,
    )
    def post(self, request: Request, item_id: int) -> Response:
        return item_write(lambda: item_undo(reviewer=request.user, item_id=item_id))


urlpatterns = [
    path("review/claim/", ReviewClaimApi.as_view(), name="api-review-claim"),
    path("items/<int:item_id>/accept/", ItemAcceptApi.as_view(), name="api-item-accept"),
    path("items/<int:item_id>/reject/", ItemRejectApi.as_view(), name="api-item-reject"),
    path("items/<int:item_id>/skip/", ItemSkipApi.as_view(), name="api-item-skip"),
    path("items/<int:item_id>/undo/", ItemUndoApi.as_view(), name="api-item-undo"),
]
