from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import QueryDict

from annotation.filters import InvalidFilters
from annotation.models import Item, ItemRevision, Job, Source, Status
from annotation.selectors import (
    EXPORT_COLUMNS,
    EXPORT_META_COLUMNS,
    export_rows,
    item_detail,
    item_list,
)
from annotation.services import item_edit, job_create
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def ids(items: QuerySet[Item]) -> list[int]:
    return [item.pk for item in items]


def test_item_list_without_filters_returns_every_item_in_id_order():
    items = [make_item() for _ in range(3)]
    assert ids(item_list()) == [item.pk for item in items]


def test_status_filter_takes_one_value_comma_separated_values_or_repeated_values():
    candidate = make_item(status=Status.CANDIDATE)
    scored = make_item(status=Status.SCORED, ifd=0.5)
    make_item(status=Status.SEED, output="")
    assert ids(item_list(filters={"status": "candidate"})) == [candidate.pk]
    assert ids(item_list(filters={"status": "candidate,scored"})) == [candidate.pk, scored.pk]
    repeated = QueryDict("status=candidate&status=scored")
    assert ids(item_list(filters=repeated)) == [candidate.pk, scored.pk]


def test_source_filter_keeps_only_that_source():
    make_item(source=Source.MANUAL)
    translated = make_item(source=Source.TRANSLATED)
    assert ids(item_list(filters={"source": "translated"})) == [translated.pk]


def test_categorization_filter_accepts_several_classes():
    person = make_item(categorization="person")
    make_item(categorization="social")
    nation = make_item(categorization="nation")
    assert ids(item_list(filters={"categorization": "person,nation"})) == [person.pk, nation.pk]
    assert ids(item_list(filters=QueryDict("categorization=person&categorization=nation"))) == [
        person.pk,
        nation.pk,
    ]


def test_ifd_bounds_are_inclusive_and_never_let_unscored_items_through():
    low = make_item(ifd=0.2)
    middle = make_item(ifd=0.5)
    high = make_item(ifd=0.9)
    make_item(ifd=None)
    assert ids(item_list(filters={"min_ifd": "0.5"})) == [middle.pk, high.pk]
    assert ids(item_list(filters={"max_ifd": "0.5"})) == [low.pk, middle.pk]
    assert ids(item_list(filters={"min_ifd": "0.3", "max_ifd": "0.6"})) == [middle.pk]
    assert ids(item_list(filters={"min_ifd": "0"})) == [low.pk, middle.pk, high.pk]


def test_text_search_looks_in_instruction_input_and_output_ignoring_case():
    in_instruction = make_item(instruction="Tell me about Honesty 正直")
    in_input = make_item(input="context about HONESTY")
    in_output = make_item(output="honesty is the best policy")
    make_item(instruction="unrelated", output="nothing here")
    assert ids(item_list(filters={"q": "honesty"})) == [
        in_instruction.pk,
        in_input.pk,
        in_output.pk,
    ]
    assert ids(item_list(filters={"q": "正直"})) == [in_instruction.pk]


def test_text_search_treats_like_wildcards_as_plain_characters():
    percent = make_item(instruction="increase by 50% today")
    make_item(instruction="increase by 500 today")
    assert ids(item_list(filters={"q": "50%"})) == [percent.pk]
    assert ids(item_list(filters={"q": "_"})) == []


def test_harm_category_filter_matches_items_whose_origin_lists_it():
    violent = make_item(origin={"harm_categories": ["Violence", "Drugs"]})
    make_item(origin={"harm_categories": ["Drugs"]})
    make_item(origin={"harm_categories": ["Violence and more"]})
    make_item(origin={})
    assert ids(item_list(filters={"harm_category": "Violence"})) == [violent.pk]


def test_searches_find_items_on_both_sides_of_the_partial_indexes():
    # The trigram and origin indexes leave out items pending translation; the filters must
    # still find those, and combine with the other filters.
    pending = make_item(
        status=Status.PENDING_TRANSLATION,
        source=Source.TRANSLATED,
        instruction="How to stay honest?",
        origin={"harm_categories": ["Violence"]},
    )
    candidate = make_item(
        source=Source.TRANSLATED,
        instruction="如何保持 honest？",
        origin={"harm_categories": ["Violence"]},
    )
    make_item(status=Status.PENDING_TRANSLATION, origin={"harm_categories": ["Drugs"]})
    assert ids(item_list(filters={"harm_category": "Violence"})) == [pending.pk, candidate.pk]
    assert ids(item_list(filters={"q": "honest"})) == [pending.pk, candidate.pk]
    assert ids(item_list(filters={"harm_category": "Violence", "status": "candidate"})) == [
        candidate.pk
    ]


def plan(queryset: QuerySet[Item]) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the tables here are tiny
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def known_statistics() -> None:
    """Give the planner the same table statistics whatever ran before this test.

    Statistics outlive the tests that made them: rows an earlier test committed (a
    transactional test, a real worker) may be analysed by autovacuum, and after the table is
    emptied again those figures stay. With many items pending translation in them the
    planner reaches that half through item_source_status instead, and this test passed or
    failed by the order of the tests. So it writes a small table of its own and ANALYZEs it
    inside the test's transaction: the statistics are this test's, and rolled back with it.
    """
    Item.objects.bulk_create(
        Item(
            instruction=f"问题 {n}",
            output=f"回答 {n}",
            source=Source.TRANSLATED if n % 10 == 0 else Source.MANUAL,
            status=Status.PENDING_TRANSLATION if n % 10 == 0 else Status.CANDIDATE,
            content_hash=f"{n:064x}",
        )
        for n in range(200)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotation_item")


def test_the_harm_category_filter_can_use_its_partial_index():
    with transaction.atomic():
        known_statistics()
        queryset = item_list(filters={"harm_category": "Violence"})
        assert "item_origin_gin" in plan(queryset)
        assert "item_status_id" in plan(queryset)  # the items pending translation


def test_the_text_search_can_use_the_bigram_index():
    # Every status is in the search index (tests/annotation/test_search.py has the rest).
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_indexscan = off")  # bitmap scans only
        assert "item_search_keys" in plan(item_list(filters={"q": "honest"}))


def test_updated_after_keeps_items_changed_strictly_later():
    old = make_item()
    new = make_item()
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    Item.objects.filter(pk=old.pk).update(updated_at=now - timedelta(days=1))
    Item.objects.filter(pk=new.pk).update(updated_at=now + timedelta(seconds=1))
    assert ids(item_list(filters={"updated_after": "2025-06-01T12:00:00Z"})) == [new.pk]
    # Without an offset the time is read in TIME_ZONE (Asia/Shanghai, +08:00).
    assert ids(item_list(filters={"updated_after": "2025-06-01T20:00:00"})) == [new.pk]


def test_parent_and_import_job_filters_follow_the_links():
    job = job_create(kind=Job.Kind.IMPORT, params={})
    parent = make_item(import_job=job)
    child = make_item(parent=parent)
    make_item()
    assert ids(item_list(filters={"parent": str(parent.pk)})) == [child.pk]
    assert ids(item_list(filters={"import_job": str(job.pk)})) == [parent.pk]


def test_filters_combine():
    wanted = make_item(source=Source.SYNTHETIC, categorization="social", ifd=0.4)
    make_item(source=Source.SYNTHETIC, categorization="person", ifd=0.4)
    make_item(source=Source.MANUAL, categorization="social", ifd=0.4)
    filters = {"source": "synthetic", "categorization": "social", "max_ifd": "0.5"}
    assert ids(item_list(filters=filters)) == [wanted.pk]


@pytest.mark.parametrize(
    ("filters", "bad"),
    [
        ({"status": "done"}, {"status"}),
        ({"categorization": "family"}, {"categorization"}),
        ({"min_ifd": "high", "max_ifd": "1"}, {"min_ifd"}),
        ({"updated_after": "yesterday"}, {"updated_after"}),
        ({"parent": "1.5", "import_job": "x"}, {"parent", "import_job"}),
    ],
)
def test_values_that_do_not_parse_are_refused_naming_the_parameter(filters, bad):
    with pytest.raises(InvalidFilters) as refused:
        list(item_list(filters=filters))
    assert set(refused.value.errors) == bad


def test_item_detail_carries_the_revision_history_oldest_first(admin_user):
    item = make_item()
    item_edit(
        item_id=item.pk,
        user=admin_user,
        version=item.version,
        changes={"output": "新的回答"},
    )
    detailed = item_detail(item_id=item.pk)
    revisions = list(detailed.revisions.all())
    assert [r.field for r in revisions] == [ItemRevision.Field.OUTPUT]
    assert revisions[0].user.username == admin_user.username


def test_export_rows_are_tuples_of_accepted_items_in_id_order_by_default():
    second = make_item(status=Status.ACCEPTED, categorization="social")
    make_item(status=Status.REJECTED, categorization="social")
    first = make_item(status=Status.ACCEPTED, categorization="person")
    rows = list(export_rows())
    assert rows == [
        tuple(getattr(item, column) for column in EXPORT_COLUMNS) for item in (second, first)
    ]


def test_export_rows_with_meta_add_the_meta_columns(admin_user):
    item = make_item(
        status=Status.ACCEPTED,
        categorization="nation",
        ifd=0.4,
        ifd_ppl=1.2,
        reviewer=admin_user,
        origin={"license": "CC-BY-NC-4.0", "row": 3},
    )
    (row,) = export_rows(include_meta=True)
    meta = dict(zip(EXPORT_META_COLUMNS, row[len(EXPORT_COLUMNS) :], strict=True))
    assert meta["id"] == item.pk
    assert meta["reviewer__username"] == admin_user.username
    assert meta["origin_license"] == "CC-BY-NC-4.0"
    assert (meta["ifd"], meta["ifd_ppl"]) == (0.4, 1.2)
