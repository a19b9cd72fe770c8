import pytest
from django.db import IntegrityError, connection, transaction

from annotation.models import Item, Status
from tests.factories import make_item

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source", "forum"),
        ("categorization", "family"),
        ("status", "approved"),
        ("instruction", ""),
    ],
)
def test_database_refuses_values_outside_the_contract(field, value):
    item = make_item()
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.filter(pk=item.pk).update(**{field: value})


def test_an_item_with_an_answer_status_needs_an_output():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_item(output="", status=Status.CANDIDATE)
    seed = make_item(output="", status=Status.SEED)
    assert seed.pk


def test_an_accepted_item_must_be_classified():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_item(status=Status.ACCEPTED, categorization="")
    assert make_item(status=Status.ACCEPTED, categorization="social").pk


def test_content_hash_and_source_key_are_unique():
    first = make_item(source_key="cvalues:1")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_item(content_hash=first.content_hash)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_item(source_key="cvalues:1")


def test_hash_and_key_columns_compare_bytes_and_carry_one_index_each():
    """The "C" collation keeps unique-index inserts cheap during imports (AsciiKeyField)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname, c.collname FROM pg_attribute a "
            "JOIN pg_collation c ON c.oid = a.attcollation "
            "WHERE a.attrelid = 'annotation_item'::regclass "
            "AND a.attname IN ('content_hash', 'source_key')"
        )
        collations = dict(cursor.fetchall())
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'annotation_item' "
            "AND (indexdef LIKE '%%(content_hash%%' OR indexdef LIKE '%%(source_key%%')"
        )
        indexes = [row[0] for row in cursor.fetchall()]
    assert collations == {"content_hash": "C", "source_key": "C"}
    assert len(indexes) == 2 and all("UNIQUE" in definition for definition in indexes)
