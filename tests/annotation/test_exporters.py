import json
import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from annotation import exporters
from annotation.exporters import export_open
from annotation.filters import InvalidFilters
from annotation.models import ExportLog, Item, Status
from annotation.selectors import export_rows
from tests.factories import make_item

pytestmark = pytest.mark.django_db

VAD_KEYS = ["instruction", "input", "output", "source", "categorization"]


def accepted(**fields) -> Item:
    fields.setdefault("categorization", "social")
    return make_item(status=Status.ACCEPTED, **fields)


def export_bytes(fmt: str, **options) -> bytes:
    return b"".join(export_open(fmt=fmt, **options).chunks())


def parse(fmt: str, data: bytes) -> list[dict]:
    text = data.decode("utf-8")
    if fmt == "json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_records_have_exactly_the_five_keys_in_order(fmt):
    accepted()
    (record,) = parse(fmt, export_bytes(fmt))
    assert list(record) == VAD_KEYS


def test_json_and_jsonl_hold_the_same_records():
    for n in range(5):
        accepted(input="" if n % 2 else f"背景 {n}")
    assert parse("json", export_bytes("json")) == parse("jsonl", export_bytes("jsonl"))


def test_jsonl_is_one_record_a_line_each_ending_in_a_newline():
    accepted(output="first line\nsecond line")
    accepted()
    data = export_bytes("jsonl")
    assert data.endswith(b"\n")
    assert len(data.splitlines()) == 2


def test_an_empty_export_is_still_valid():
    make_item(status=Status.CANDIDATE)
    assert json.loads(export_bytes("json")) == []
    assert export_bytes("jsonl") == b""


def test_only_accepted_items_are_exported_by_default():
    wanted = accepted()
    for status in (Status.CANDIDATE, Status.IN_REVIEW, Status.REJECTED):
        make_item(status=status, categorization="social")
    records = parse("jsonl", export_bytes("jsonl"))
    assert [r["instruction"] for r in records] == [wanted.instruction]


def test_a_status_filter_replaces_the_default():
    make_item(status=Status.ACCEPTED, categorization="social")
    rejected = make_item(status=Status.REJECTED, categorization="social")
    records = parse("jsonl", export_bytes("jsonl", filters={"status": "rejected"}))
    assert [r["instruction"] for r in records] == [rejected.instruction]


def test_records_come_in_item_id_order_whatever_the_update_order():
    items = [accepted() for _ in range(6)]
    Item.objects.filter(pk=items[0].pk).update(instruction="最后修改的第一条")
    records = parse("json", export_bytes("json"))
    expected = ["最后修改的第一条", *(item.instruction for item in items[1:])]
    assert [r["instruction"] for r in records] == expected


def test_non_ascii_text_is_written_as_utf8_not_escaped():
    accepted(instruction="什么是“家国情怀”？", output="爱国、敬业、诚信、友善。😀")
    data = export_bytes("jsonl")
    assert "什么是“家国情怀”？".encode() in data
    assert "😀".encode() in data
    assert b"\\u" not in data


def test_text_is_exported_exactly_as_stored_whitespace_included():
    instruction = "  前后有空格的指令\t"
    output = "第一行\r\n第二行\n\n  缩进\u3000全角空格 "
    accepted(instruction=instruction, input=" ", output=output)
    (record,) = parse("json", export_bytes("json"))
    assert (record["instruction"], record["input"], record["output"]) == (instruction, " ", output)


def test_characters_json_must_escape_are_escaped_and_round_trip():
    tricky = 'quote " backslash \\ control \x01 slash / tab \t'
    accepted(output=tricky)
    for fmt in ("json", "jsonl"):
        (record,) = parse(fmt, export_bytes(fmt))
        assert record["output"] == tricky


def test_include_meta_adds_a_sixth_key_with_provenance(admin_user):
    item = accepted(
        ifd=0.35,
        ifd_ppl=1.5,
        reviewer=admin_user,
        reviewed_at=datetime(2025, 3, 1, 4, 30, 15, tzinfo=UTC),
        origin={"dataset": "PKU-SafeRLHF", "license": "CC-BY-NC-4.0", "harm_categories": []},
    )
    (record,) = parse("jsonl", export_bytes("jsonl", include_meta=True))
    assert list(record) == [*VAD_KEYS, "meta"]
    assert record["meta"] == {
        "id": item.pk,
        "ifd": 0.35,
        "ifd_ppl": 1.5,
        "reviewer": admin_user.username,
        # In TIME_ZONE (Asia/Shanghai) with its offset.
        "reviewed_at": "2025-03-01T12:30:15+08:00",
        "license": "CC-BY-NC-4.0",
        "origin": {"dataset": "PKU-SafeRLHF", "license": "CC-BY-NC-4.0", "harm_categories": []},
    }
    assert list(record["meta"]) == [
        "id",
        "ifd",
        "ifd_ppl",
        "reviewer",
        "reviewed_at",
        "license",
        "origin",
    ]


def test_meta_of_an_unscored_unreviewed_item_is_null_where_unknown():
    accepted(origin={"dataset": "手写"})
    (record,) = parse("json", export_bytes("json", include_meta=True))
    meta = record["meta"]
    assert (meta["ifd"], meta["ifd_ppl"], meta["reviewer"], meta["reviewed_at"]) == (
        None,
        None,
        None,
        None,
    )
    assert meta["license"] is None
    assert meta["origin"] == {"dataset": "手写"}


def test_ifd_bounds_never_let_unscored_items_through():
    scored = accepted(ifd=0.4)
    accepted(ifd=0.9)
    accepted(ifd=None)
    records = parse("jsonl", export_bytes("jsonl", filters={"max_ifd": "0.5"}))
    assert [r["instruction"] for r in records] == [scored.instruction]
    assert len(parse("jsonl", export_bytes("jsonl", filters={"min_ifd": "0"}))) == 2


def test_source_categorization_and_updated_after_filters():
    wanted = accepted(source="synthetic", categorization="nation")
    accepted(source="synthetic", categorization="person")
    accepted(source="manual", categorization="nation")
    stale = accepted(source="synthetic", categorization="nation")
    Item.objects.filter(pk=stale.pk).update(updated_at=datetime(2020, 1, 1, tzinfo=UTC))
    filters = {"source": "synthetic", "categorization": "nation", "updated_after": "2024-01-01"}
    records = parse("jsonl", export_bytes("jsonl", filters=filters))
    assert [r["instruction"] for r in records] == [wanted.instruction]


def test_bad_format_and_filter_values_are_refused_naming_each_parameter():
    with pytest.raises(InvalidFilters) as refused:
        export_open(fmt="csv", filters={"min_ifd": "high", "updated_after": "later"})
    assert set(refused.value.errors) == {"format", "min_ifd", "updated_after"}
    assert not ExportLog.objects.exists()


def test_each_export_is_logged_with_its_count_when_the_stream_ends(admin_user):
    for _ in range(3):
        accepted(source="manual")
    accepted(source="synthetic")
    export = export_open(fmt="jsonl", filters={"source": "manual"}, user=admin_user)
    log = ExportLog.objects.get(pk=export.log_id)
    assert (log.count, log.completed) == (None, False)
    b"".join(export.chunks())
    log.refresh_from_db()
    assert (log.user, log.format, log.count, log.completed) == (admin_user, "jsonl", 3, True)
    assert log.filters == {"source": "manual", "status": "accepted"}


def test_an_abandoned_stream_is_logged_as_incomplete(monkeypatch):
    monkeypatch.setattr(exporters, "FETCH_ROWS", 2)
    monkeypatch.setattr(exporters, "CHUNK_BYTES", 16)
    for _ in range(10):
        accepted()
    export = export_open(fmt="json")
    chunks = export.chunks()
    next(chunks)
    chunks.close()
    log = ExportLog.objects.get(pk=export.log_id)
    assert log.completed is False
    assert 0 < log.count < 10
    assert not [t for t in threading.enumerate() if t.name == "export-prefetch"]


def test_big_exports_come_in_chunks_of_about_64_kb_across_many_fetches(monkeypatch):
    monkeypatch.setattr(exporters, "FETCH_ROWS", 7)
    items = [accepted(output=f"{n} " + "长" * 400) for n in range(300)]
    chunks = list(export_open(fmt="json").chunks())
    assert len(chunks) > 3
    assert all(len(chunk) == exporters.CHUNK_BYTES for chunk in chunks[:-1])
    records = json.loads(b"".join(chunks))
    assert [r["output"] for r in records] == [item.output for item in items]


def test_the_postgres_fast_path_reads_the_same_rows_as_the_django_iterator(admin_user):
    accepted(
        reviewer=admin_user,
        reviewed_at=datetime(2025, 1, 1, tzinfo=UTC),
        ifd=0.1,
        origin={"license": "Apache-2.0", "中文": "值"},
    )
    accepted(input="上下文")
    rows = export_rows(include_meta=True)
    with transaction.atomic():
        fast = [row for batch in exporters._postgres_batches(rows, connection) for row in batch]
    slow = [row for batch in exporters._django_batches(rows) for row in batch]
    assert fast == slow


def test_a_database_error_while_streaming_reaches_the_caller(monkeypatch):
    accepted()

    def failing_batches(rows, connection):
        yield from ()
        raise RuntimeError("connection lost")

    monkeypatch.setattr(exporters, "_postgres_batches", failing_batches)
    export = export_open(fmt="jsonl")
    with pytest.raises(RuntimeError, match="connection lost"):
        b"".join(export.chunks())
    assert ExportLog.objects.get(pk=export.log_id).completed is False


def test_origin_stored_with_unicode_escapes_is_written_unescaped():
    # SQLite keeps the JSON text Django wrote, with non-ASCII escaped as \uXXXX.
    row = ("指令", "", "回答", "manual", "person", 1, None, None, None, None, None)
    (record,) = exporters._meta_records([(*row, '{"domain": "\\u6cd5\\u5b66"}')])
    assert '"origin":{"domain":"法学"}'.encode() in record


@pytest.mark.django_db(transaction=True)
def test_streaming_works_in_autocommit_as_in_production():
    # Outside a test's transaction the named cursor needs the export's own transaction, and
    # the prefetch thread must use the caller's connection, not a thread-local one.
    items = [accepted() for _ in range(5)]
    export = export_open(fmt="jsonl")
    records = parse("jsonl", b"".join(export.chunks()))
    assert [r["instruction"] for r in records] == [item.instruction for item in items]
    assert ExportLog.objects.get(pk=export.log_id).completed is True
