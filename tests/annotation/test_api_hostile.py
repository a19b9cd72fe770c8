"""Hostile API requests get a 4xx answer, never a 500: forged cursors, deep JSON bodies."""

import base64
import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.pagination import CursorPagination

from annotation.models import Job
from tests.factories import make_item


def paginated_endpoints() -> list[str]:
    """Every API route whose view pages with a cursor (so a new one is tested too)."""
    found = []

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "view_class", None)
                paginator = getattr(view, "pagination_class", None)
                if paginator and issubclass(paginator, CursorPagination):
                    found.append("/" + prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    return found


def test_the_paginated_endpoints_are_found():
    assert {"/api/v1/items/", "/api/v1/jobs/"} <= set(paginated_endpoints())


def make_rows() -> None:
    """One row for each paginated list."""
    make_item()
    Job.objects.create(kind=Job.Kind.IMPORT)


def forged_cursor(position: str) -> str:
    return base64.b64encode(f"o=0&r=0&p={position}".encode()).decode()


@pytest.mark.parametrize("position", ["abc", "1.5", "%00", "9" * 40, "-1e400"])
@pytest.mark.parametrize("endpoint", paginated_endpoints())
@pytest.mark.django_db
def test_a_cursor_with_an_invalid_position_is_refused_not_a_server_error(
    admin_api, endpoint, position
):
    make_rows()
    response = admin_api.get(endpoint, {"cursor": forged_cursor(position)})
    assert response.status_code in (400, 404), response.content[:300]
    if position not in ("9" * 40, "-1e400"):
        assert response.status_code == 404  # DRF's "Invalid cursor"


@pytest.mark.parametrize("endpoint", paginated_endpoints())
@pytest.mark.django_db
def test_a_valid_cursor_still_pages(admin_api, endpoint):
    for _ in range(3):
        make_rows()
    first = admin_api.get(endpoint, {"page_size": 1}).json()
    second = admin_api.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert second["results"][0]["id"] != first["results"][0]["id"]


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("endpoint", ["/api/v1/pipeline/score/", "/api/v1/pipeline/filter/"])
@pytest.mark.parametrize(
    "body",
    [deep_json(100_000), '{"a": ' + deep_json(100_000) + "}", '{"a": ' + "9" * 5000 + "}"],
    ids=["deep-array", "deep-object", "long-number"],
)
@pytest.mark.django_db
def test_a_hostile_json_body_answers_400(admin_api, endpoint, body):
    response = admin_api.post(endpoint, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert "JSON" in response.json()["detail"]


@pytest.mark.django_db
def test_an_ordinary_json_body_is_still_parsed(admin_api):
    response = admin_api.post(
        "/api/v1/pipeline/filter/", json.dumps({"min_ifd": "x"}), content_type="application/json"
    )
    assert response.status_code == 400
    assert "min_ifd" in json.dumps(response.json())
