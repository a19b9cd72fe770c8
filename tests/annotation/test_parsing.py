"""The background parser: outcomes in file order, errors at their place, and the pause of the
cyclic garbage collector it holds while it runs, in processes that allowed it."""

import gc
import json

import pytest

from annotation.errors import RowError
from annotation.importers import RecordStream, UnreadableFile, get_format
from annotation.importers.base import ImportOptions, ItemDraft
from annotation.importers.parsing import BackgroundParser, allow_collector_pause
from tests.factories import vad_record

CAP = 1 << 16


def _parser(tmp_path, records: list[dict], *, name: str = "items.jsonl", **options):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    convert = get_format("vad").make_converter(ImportOptions(rule="all"))
    return BackgroundParser(RecordStream(path, max_record_bytes=CAP), convert, **options)


@pytest.fixture
def collector_on():
    """Leave the cyclic collector as the test found it, whatever the test does to it, in a
    process that allows parsers to pause it (as a worker or the command does)."""
    was_enabled = gc.isenabled()
    gc.enable()
    allow_collector_pause()
    yield
    allow_collector_pause(False)
    (gc.enable if was_enabled else gc.disable)()


def test_outcomes_come_in_file_order_in_chunks_with_errors_in_place(tmp_path):
    records = [vad_record(n) for n in range(7)]
    records[4] = vad_record(4, categorization="family")
    with _parser(tmp_path, records, chunk_size=3) as chunks:
        parsed = list(chunks)
    assert [len(chunk) for chunk in parsed] == [3, 3, 1]
    outcomes = [outcome for chunk in parsed for outcome in chunk]
    assert [line for line, _ in outcomes] == list(range(1, 8))
    assert [type(outcome) for _, outcome in outcomes] == [ItemDraft] * 4 + [RowError] + [
        ItemDraft
    ] * 2
    assert outcomes[4][1].field == "categorization"
    assert [o.output for _, o in outcomes if type(o) is ItemDraft] == [
        r["output"] for n, r in enumerate(records) if n != 4
    ]


def test_an_unreadable_file_raises_in_the_consumer_where_it_happened(tmp_path):
    path = tmp_path / "gbk.jsonl"
    good = json.dumps(vad_record(1), ensure_ascii=False).encode() + b"\n"
    path.write_bytes(good * 3 + "诚信".encode("gbk") + b"\n")
    convert = get_format("vad").make_converter(ImportOptions(rule="all"))
    seen = []
    parser = BackgroundParser(RecordStream(path, max_record_bytes=CAP), convert, chunk_size=1)
    with pytest.raises(UnreadableFile), parser as chunks:
        for chunk in chunks:
            seen.extend(chunk)
    assert [line for line, _ in seen] == [1, 2, 3]


def test_the_cyclic_collector_is_paused_while_a_parser_runs(tmp_path, collector_on):
    states = []
    with _parser(tmp_path, [vad_record(n) for n in range(5)], chunk_size=2) as chunks:
        for _chunk in chunks:
            states.append(gc.isenabled())
    assert states == [False, False, False]
    assert gc.isenabled()


def test_the_collector_keeps_running_in_a_process_that_did_not_allow_the_pause(tmp_path):
    # A web process (the default): other requests' threads need the collector.
    assert gc.isenabled()
    with _parser(tmp_path, [vad_record(n) for n in range(5)], chunk_size=2) as chunks:
        states = [gc.isenabled() for _chunk in chunks]
    assert states == [True, True, True]


def test_parsers_running_together_share_one_pause(tmp_path, collector_on):
    first = _parser(tmp_path, [vad_record(1)], name="first.jsonl")
    second = _parser(tmp_path, [vad_record(2)], name="second.jsonl")
    with first:
        with second:
            assert not gc.isenabled()
        assert not gc.isenabled()  # the first parser still runs
    assert gc.isenabled()


def test_the_collector_stays_off_after_a_parser_when_it_was_off(tmp_path, collector_on):
    gc.disable()
    with _parser(tmp_path, [vad_record(1)]) as chunks:
        list(chunks)
    assert not gc.isenabled()


def test_leaving_a_parser_early_by_an_exception_resumes_the_collector(tmp_path, collector_on):
    parser = _parser(tmp_path, [vad_record(n) for n in range(50)], chunk_size=1)
    with pytest.raises(KeyError), parser as chunks:
        next(iter(chunks))
        raise KeyError("the consumer failed")
    assert gc.isenabled()
