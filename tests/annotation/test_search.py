"""Text search through the bigram keys in ItemSearchText (annotation.search): the index finds
two-character Chinese words, the keys follow the text and nothing else, and an import's
items become searchable once its follow-up has run."""

import json

import pytest
from django.db import connection

from annotation.filters import search_text
from annotation.models import Item, ItemSearchText, Status
from annotation.search import search_keys
from annotation.services import (
    ImportRequest,
    import_file,
    import_job_create,
    import_job_run,
    item_change_status,
    item_edit,
    items_change_status,
)
from annotation.services.search import item_search_text_fill
from tests.factories import make_item, vad_record

pytestmark = pytest.mark.django_db


def _found(query: str) -> set[int]:
    return set(search_text(Item.objects.all(), query).values_list("pk", flat=True))


def _side_row_version(item_id: int) -> tuple[str, str]:
    """The row version (ctid, xmin) of an item's search keys: new whenever it is written."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ctid::text, xmin::text FROM annotation_itemsearchtext WHERE item_id = %s",
            [item_id],
        )
        return cursor.fetchone()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "诚",
        "诚信是立身之本",
        "Dispose of WASTE safely 100%",
        "emoji 😀😃 and 𠀀𠀁 outside the BMP",
        "第1题：人工智能\x1f\x1f回答。",
        "ÀÉÎ ÕÜ ß ǅ",
    ],
)
def test_the_keys_computed_in_python_equal_those_of_the_sql_function(text):
    with connection.cursor() as cursor:
        cursor.execute("SELECT lower(%s), vad_search_keys(lower(%s))", [text, text])
        lowered, expected = cursor.fetchone()
    assert search_keys([lowered])[0].tolist() == expected
    # The same, computed for many texts at once.
    assert search_keys(["前", lowered, "后"])[1].tolist() == expected


def test_a_two_character_chinese_word_is_found_through_the_index():
    panda = make_item(instruction="大熊猫吃什么？", output="竹子。")
    make_item(instruction="熊和猫", output="熊是熊，猫是猫。")  # both characters, not the word
    make_item(instruction="无关", output="无关的回答。")
    assert _found("熊猫") == {panda.pk}
    sql, params = search_text(Item.objects.all(), "熊猫").query.sql_with_params()
    with connection.cursor() as cursor:
        # A table of three rows would be read whole, by any path: leave the planner only
        # bitmap scans, where it picks the index that has a condition for the query.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "item_search_keys" in plan  # the GIN index over the keys
    assert "ILIKE" not in plan.upper()  # two characters: the index alone answers


def test_longer_queries_are_checked_against_the_text():
    # Every pair of "熊猫馆" is in this item, but not the three characters together.
    make_item(instruction="熊猫和猫馆", output="回答。")
    hall = make_item(instruction="熊猫馆在哪里？", output="在动物园。")
    assert _found("熊猫馆") == {hall.pk}


def test_one_character_and_mixed_case_queries_find_their_items():
    ai = make_item(instruction="什么是 AI？", output="人工智能。")
    make_item(instruction="无关", output="回答。")
    assert _found("ai") == _found("Ai") == {ai.pk}
    assert _found("智") == {ai.pk}


def test_a_status_change_leaves_the_search_keys_untouched():
    item = make_item(instruction="请谈谈诚信", output="诚信是立身之本。", categorization="person")
    before = _side_row_version(item.pk)
    item_change_status(item_id=item.pk, status=Status.IN_REVIEW)
    items_change_status(item_ids=[item.pk], status=Status.ACCEPTED)
    item.refresh_from_db()
    assert (item.status, item.version) == (Status.ACCEPTED, 3)
    assert _side_row_version(item.pk) == before
    assert _found("诚信") == {item.pk}


def test_a_text_edit_updates_the_search_keys(admin_user):
    item = make_item(instruction="请谈谈诚信", output="诚信是立身之本。")
    item_edit(item_id=item.pk, user=admin_user, version=1, changes={"output": "友善待人。"})
    assert _found("友善") == {item.pk}
    assert _found("立身") == set()
    assert _found("诚信") == {item.pk}  # still in the instruction


def test_an_import_is_searchable_once_its_follow_up_has_run(tmp_path):
    path = tmp_path / "items.jsonl"
    records = [vad_record(n) for n in range(3)]
    records[1]["output"] = "熊猫喜欢竹子。"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    # In this test the transaction never commits, so the follow-up (run by a task on commit)
    # does not run: the import wrote item rows only.
    report = import_file(request=ImportRequest(path=str(path), format="vad"))
    assert report.created == 3
    assert not ItemSearchText.objects.exists()
    assert _found("熊猫") == set()
    assert item_search_text_fill() == 3
    assert _found("熊猫") == {Item.objects.get(output="熊猫喜欢竹子。").pk}
    assert item_search_text_fill() == 0  # nothing left to do
    # Later items of the same transaction get their keys from the trigger again.
    later = make_item(instruction="熊猫住在哪里？", output="四川。")
    assert later.pk in _found("熊猫")


@pytest.mark.django_db(transaction=True)
def test_an_import_job_is_searchable_when_it_returns_with_eager_tasks(tmp_path):
    path = tmp_path / "items.jsonl"
    record = {**vad_record(1), "output": "熊猫喜欢竹子。"}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n")
    job = import_job_create(request=ImportRequest(path=str(path), format="vad"), enqueue=False)
    job = import_job_run(job_id=job.pk)
    assert _found("熊猫") == {Item.objects.get().pk}
    assert ItemSearchText.objects.count() == 1
    job.refresh_from_db()  # the follow-up says when the import's items became searchable
    assert job.report["created"] == 1 and "searchable_at" in job.report
