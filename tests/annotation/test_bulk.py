"""bulk_update_fields writes what QuerySet.bulk_update writes, in one statement."""

import math
from datetime import UTC, datetime

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from annotation.bulk import bulk_update_fields
from annotation.models import Item, Status
from tests.factories import make_item

pytestmark = pytest.mark.django_db

FIELDS = ["ifd", "ifd_ppl", "ifd_model", "ifd_params", "scored_at", "status", "version"]


def _scored(items: list[Item]) -> list[Item]:
    """Different values of every kind on each item: floats (with inf and None), text, JSON,
    a timestamp, a choice, an integer."""
    for n, item in enumerate(items):
        item.ifd = [0.25, math.inf, None][n % 3]
        item.ifd_ppl = None if n % 3 == 2 else 1.5 + n
        item.ifd_model = f"model-{n} 'quoted'"
        item.ifd_params = {"n": n, "nested": {"cut": [n, None]}, "text": "引号 \" '"}
        item.scored_at = datetime(2026, 1, 1 + n, 12, 30, tzinfo=UTC)
        item.status = Status.SCORED
        item.version = item.version + n + 1
    return items


def _stored(items: list[Item]) -> list[tuple]:
    rows = Item.objects.filter(pk__in=[i.pk for i in items]).order_by("pk")
    return [tuple(getattr(row, name) for name in ["pk", *FIELDS]) for row in rows]


def test_every_row_gets_its_own_values_in_one_statement():
    items = _scored([make_item() for _ in range(5)])
    untouched = make_item()

    with CaptureQueriesContext(connection) as queries:
        updated = bulk_update_fields(items, FIELDS)

    assert updated == 5
    assert len(queries) == 1
    assert _stored(items) == [tuple(getattr(i, name) for name in ["pk", *FIELDS]) for i in items]
    untouched_now = Item.objects.get(pk=untouched.pk)
    assert (untouched_now.ifd, untouched_now.status, untouched_now.version) == (
        None,
        Status.CANDIDATE,
        untouched.version,
    )


def test_the_rows_read_back_as_after_queryset_bulk_update():
    mine = _scored([make_item() for _ in range(4)])
    django_s = _scored([make_item() for _ in range(4)])

    bulk_update_fields(mine, FIELDS)
    Item.objects.bulk_update(django_s, FIELDS)

    assert [row[1:] for row in _stored(mine)] == [row[1:] for row in _stored(django_s)]


def test_fields_not_listed_are_left_alone():
    item = make_item()
    item.ifd = 0.5
    item.instruction = "changed in memory only"

    bulk_update_fields([item], ["ifd"])

    stored = Item.objects.get(pk=item.pk)
    assert stored.ifd == 0.5
    assert stored.instruction != "changed in memory only"


def test_nothing_to_update_sends_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert bulk_update_fields([], FIELDS) == 0
    assert queries.captured_queries == []


def test_text_too_long_for_its_column_is_refused_not_cut():
    items = [make_item(), make_item()]
    items[0].ifd_model = "short"
    items[1].ifd_model = "m" * 256  # the column holds 255

    with pytest.raises(DataError, match="too long"), transaction.atomic():
        bulk_update_fields(items, ["ifd_model"])

    assert list(Item.objects.filter(pk__in=[i.pk for i in items]).values_list("ifd_model")) == [
        ("",),
        ("",),
    ]
