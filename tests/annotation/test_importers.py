"""The record reader and the formats, without the database: real files written to tmp_path."""

import codecs
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotation.errors import RowError
from annotation.hashing import content_hash
from annotation.importers import (
    FORMATS,
    BadRow,
    ImportOptions,
    RecordStream,
    UnknownFormat,
    UnreadableFile,
    get_format,
    json_array,
    resolve_rule,
)
from annotation.importers.base import infer_config_split
from annotation.importers.saferlhf import (
    SafeRLHFRow,
    choose_response,
    decode_line,
    response_sha256,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SAFERLHF_SAMPLE = FIXTURES / "pku_saferlhf_alpaca7b_test_sample.jsonl"
CAP = 1 << 20


def sample_rows() -> list[dict]:
    return [json.loads(line) for line in SAFERLHF_SAMPLE.read_text("utf-8").splitlines()]


def read_all(path: Path, *, cap: int = CAP) -> list[tuple[int, object]]:
    return list(RecordStream(path, max_record_bytes=cap))


def unreadable(path: Path, *, cap: int = CAP) -> RowError:
    with pytest.raises(UnreadableFile) as caught:
        read_all(path, cap=cap)
    return caught.value.error


def write(tmp_path: Path, data: bytes, name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# Reading files.


def test_json_lines_come_with_their_line_numbers_and_blank_lines_are_skipped(tmp_path):
    path = write(tmp_path, b'{"a": 1}\n\n  \r\n{"a": 2}\r\n{"a": 3}')
    assert read_all(path) == [(1, {"a": 1}), (4, {"a": 2}), (5, {"a": 3})]
    assert RecordStream(path, max_record_bytes=CAP).kind == "jsonl"


@pytest.mark.parametrize("body", [b'{"a": "\xe4\xb8\xad"}\n', b'[{"a": "\xe4\xb8\xad"}]'])
def test_a_utf8_byte_order_mark_is_accepted_and_stripped(tmp_path, body):
    path = write(tmp_path, codecs.BOM_UTF8 + body)
    assert read_all(path) == [(1, {"a": "中"})]


def test_json_array_elements_come_with_the_line_where_they_start(tmp_path):
    rows = [{"n": 1, "text": "多行\n文本"}, {"n": 2}, {"n": 3, "nested": {"list": [1, 2]}}]
    path = write(tmp_path, json.dumps(rows, indent=2, ensure_ascii=False).encode(), "a.json")
    records = read_all(path)
    assert [record for _, record in records] == rows
    text = path.read_text("utf-8").splitlines()
    for line, record in records:
        assert text[line - 1].strip() == "{", (line, record)


def test_a_json_array_is_parsed_correctly_across_small_read_chunks(tmp_path, monkeypatch):
    # Tiny chunks split elements, strings, numbers and multi-byte characters across reads.
    monkeypatch.setattr(json_array, "_READ_CHUNK", 7)
    rows = [{"n": 123456789, "text": "价值观对齐" * 5, "ok": True, "x": None} for _ in range(20)]
    path = write(tmp_path, json.dumps(rows, ensure_ascii=False).encode(), "a.json")
    assert [record for _, record in read_all(path)] == rows


def test_an_empty_json_array_has_no_records(tmp_path):
    assert read_all(write(tmp_path, b" [ ]\n")) == []


def test_parquet_is_recognised_by_its_magic_bytes_whatever_the_file_name(tmp_path):
    rows = sample_rows()[:3]
    path = tmp_path / "rows.jsonl"  # a misleading name: the content decides
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=2)
    stream = RecordStream(path, max_record_bytes=CAP)
    assert stream.kind == "parquet"
    assert list(stream) == [(1, rows[0]), (2, rows[1]), (3, rows[2])]
    assert stream.position() == stream.size


# Files that cannot be read at all: the message names the file and line and says what to do.


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-16", "UTF-16"), ("utf-32", "UTF-32"), ("utf-16-be", "NUL byte")],
)
def test_utf16_and_utf32_files_are_refused_with_advice(tmp_path, encoding, expected):
    path = write(tmp_path, '{"a": "中文"}\n'.encode(encoding))
    error = unreadable(path)
    assert error.path == str(path) and error.line == 1
    assert expected in error.message and "save the file as UTF-8" in error.message


def test_a_gbk_file_is_refused_naming_the_line_and_the_encoding(tmp_path):
    body = '{"a": "ok"}\n{"a": "also fine"}\n{"prompt": "你好"}\n'.encode("gbk")
    error = unreadable(write(tmp_path, body))
    assert error.line == 3
    assert "not valid UTF-8" in error.message and "GBK" in error.message
    assert "save the file as UTF-8" in error.message


def test_a_gbk_json_array_is_refused_naming_the_line(tmp_path):
    body = '[\n{"a": 1},\n{"a": "价值"}\n]'.encode("gbk")
    error = unreadable(write(tmp_path, body, "a.json"))
    assert error.line == 3 and "not valid UTF-8" in error.message


def test_a_binary_file_is_refused(tmp_path):
    error = unreadable(write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "x.png"))
    assert "binary data" in error.message


def test_binary_data_after_good_lines_is_refused_at_its_line(tmp_path):
    error = unreadable(write(tmp_path, b'{"a": 1}\n{"a": 2}\n{"a": "\x00"}\n'))
    assert error.line == 3 and "binary data" in error.message


@pytest.mark.parametrize("body", [b"", b"  \n\t\r\n\n"])
def test_an_empty_or_blank_file_is_refused(tmp_path, body):
    assert "empty" in unreadable(write(tmp_path, body)).message


def test_a_file_that_is_neither_an_array_nor_json_lines_is_refused(tmp_path):
    error = unreadable(write(tmp_path, b"\n\ninstruction,output\n"))
    assert error.line == 3 and "expected '['" in error.message


@pytest.mark.parametrize(
    ("body", "line", "detail"),
    [
        (b'[\n{"a": 1},\n{"a": 2,, "b": 3},\n{"a": 4}\n]', 3, "malformed JSON array"),
        (b'[\n{"a": 1}\n{"a": 2}\n]', 3, "expected ',' or ']'"),
        (b'[\n{"a": 1},\n]', 3, "trailing comma"),
        (b'[\n{"a": 1},\n{"a": 2}', 3, "ends before the JSON array is closed"),
        (b'[{"a": 1}]\n\n{"b": 2}', 3, "after the end of the JSON array"),
        (b'[\n{"a": NaN}]', 2, "NaN is not valid JSON"),
        (b'[\n{"a": "unterminated}\n]', 2, "malformed JSON array"),
    ],
)
def test_a_broken_json_array_is_refused_at_the_line_of_the_problem(tmp_path, body, line, detail):
    error = unreadable(write(tmp_path, body, "a.json"))
    assert (error.line, detail in error.message) == (line, True), error


def test_a_json_array_element_over_the_record_cap_is_refused(tmp_path):
    body = json.dumps([{"a": "x"}, {"a": "x" * 500}]).encode()
    error = unreadable(write(tmp_path, body, "a.json"), cap=200)
    assert "longer than the limit of 200 bytes" in error.message


def test_a_record_cap_counts_bytes_not_characters(tmp_path):
    # 100 CJK characters are 300 bytes of UTF-8.
    body = json.dumps([{"a": "中" * 100}], ensure_ascii=False).encode()
    assert "longer than the limit" in unreadable(write(tmp_path, body, "a.json"), cap=250).message


# Bad records: yielded in place, so the rest of the file can still be read.


def test_a_malformed_json_line_is_a_bad_record_naming_its_line(tmp_path):
    records = read_all(write(tmp_path, b'{"a": 1}\n{"a": 2,, }\n{"a": 3}\n'))
    assert records[0] == (1, {"a": 1}) and records[2] == (3, {"a": 3})
    line, error = records[1]
    assert line == 2 and isinstance(error, RowError) and "malformed JSON" in error.message


def test_a_line_over_the_record_cap_is_a_bad_record_and_reading_goes_on(tmp_path):
    long_line = json.dumps({"a": "x" * 5000}).encode()
    records = read_all(write(tmp_path, b'{"a": 1}\n' + long_line + b'\n{"a": 3}\n'), cap=1000)
    assert records[0] == (1, {"a": 1}) and records[2] == (3, {"a": 3})
    line, error = records[1]
    assert line == 2 and "longer than the limit of 1000 bytes" in error.message


def test_a_line_of_exactly_the_cap_is_accepted(tmp_path):
    record = json.dumps({"a": "x" * 100}).encode()
    assert read_all(write(tmp_path, record + b"\n"), cap=len(record)) == [(1, {"a": "x" * 100})]


@pytest.mark.parametrize("body", [b'[1, "two", {"a": 3}]', b'1\n"two"\n{"a": 3}'])
def test_records_that_are_not_objects_are_bad_records(tmp_path, body):
    if body.startswith(b"1"):
        body = b'{"a": 0}\n' + body  # JSON lines must start with an object to be recognised
    records = read_all(write(tmp_path, body))
    errors = [r for _, r in records if isinstance(r, RowError)]
    assert len(errors) == 2
    assert "must be a JSON object, not a number (1)" in errors[0].message
    assert "not a string" in errors[1].message


def test_an_unpaired_surrogate_escape_is_a_bad_record(tmp_path):
    records = read_all(write(tmp_path, b'[{"a": "\\ud800"}, {"a": "\\ud83d\\ude00"}]'))
    assert isinstance(records[0][1], RowError)
    assert records[1][1] == {"a": "😀"}


# The registry.


def test_formats_and_rules_are_validated_against_the_registry():
    assert set(FORMATS) == {"saferlhf", "cvalues", "cvalues-comparison", "vad"}
    assert resolve_rule(get_format("saferlhf"), None) == "safe-better"
    assert resolve_rule(get_format("saferlhf"), "safe") == "safe"
    with pytest.raises(UnknownFormat, match="unknown import format 'alpaca'"):
        get_format("alpaca")
    with pytest.raises(UnknownFormat, match="unknown rule 'safest'"):
        resolve_rule(get_format("saferlhf"), "safest")


# SafeRLHF rows.


def saferlhf(rule: str = "safe-better", **options):
    return get_format("saferlhf").make_converter(ImportOptions(rule=rule, **options))


@pytest.mark.parametrize(
    ("better", "safer", "is_safe", "safe_better", "safe"),
    [
        (1, 1, (False, True), 1, 1),
        (0, 0, (True, True), 0, 0),
        (0, 1, (True, True), None, 1),  # the better response is not the safer one
        (1, 0, (True, False), None, 0),
        (1, 1, (False, False), None, None),  # nothing safe to keep
        (0, 0, (False, True), None, None),  # the "safer" one is still unsafe
    ],
)
def test_each_rule_keeps_the_response_it_promises(better, safer, is_safe, safe_better, safe):
    assert choose_response(rule="safe-better", better=better, safer=safer, is_safe=is_safe) == (
        safe_better
    )
    assert choose_response(rule="safe", better=better, safer=safer, is_safe=is_safe) == safe


def test_a_kept_saferlhf_row_becomes_an_english_pair_with_its_provenance():
    row = sample_rows()[3]  # response 0 unsafe, response 1 safe, better = safer = 1
    draft = saferlhf(config="Alpaca-7B", split="test")(row, 3)
    assert (draft.instruction, draft.input, draft.output) == (row["prompt"], "", row["response_1"])
    assert (draft.source, draft.status, draft.categorization) == (
        "translated",
        "pending_translation",
        "",
    )
    assert draft.source_key == f"saferlhf:{row['response_1_sha256']}"
    flagged = {
        name for i in (0, 1) for name, on in row[f"response_{i}_harm_category"].items() if on
    }
    assert draft.origin == {
        "dataset": "PKU-Alignment/PKU-SafeRLHF",
        "config": "Alpaca-7B",
        "split": "test",
        "row": 3,
        "license": "CC-BY-NC-4.0",
        "harm_categories": sorted(flagged),
        "severity": max(row["response_0_severity_level"], row["response_1_severity_level"]),
        "response_source": row["response_1_source"],
        "prompt_source": row["prompt_source"],
        "response_id": 1,
        "rule": "safe-better",
    }
    assert draft.content_hash == content_hash(
        instruction=row["prompt"],
        input="",
        output=row["response_1"],
        source="translated",
        categorization="",
    )


def test_a_row_the_rule_does_not_keep_is_not_selected_rather_than_bad():
    row = sample_rows()[0]  # both responses unsafe
    assert saferlhf()(row, 0) is None
    assert saferlhf("safe")(row, 0) is None


def test_a_missing_sha256_is_computed_the_same_way():
    row = sample_rows()[1]
    del row["response_0_sha256"], row["response_1_sha256"]
    draft = saferlhf()(row, 1)
    chosen = draft.origin["response_id"]
    assert (
        draft.source_key == f"saferlhf:{response_sha256(row['prompt'], row[f'response_{chosen}'])}"
    )


BAD_SAFERLHF_FIELDS = pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"response_1_sha256": "0" * 64}, "response_1_sha256", "does not match"),
        ({"response_0_sha256": "0" * 64}, "response_0_sha256", "does not match"),
        ({"prompt": 42}, "prompt", "must be a string, not a number (42)"),
        ({"prompt": " \n"}, "prompt", "must not be empty"),
        ({"is_response_0_safe": "yes"}, "is_response_0_safe", "must be true or false"),
        ({"better_response_id": 2}, "better_response_id", "must be from 0 to 1, not 2"),
        ({"safer_response_id": True}, "safer_response_id", "must be an integer"),
        ({"response_1_severity_level": 4}, "response_1_severity_level", "from 0 to 3, not 4"),
        ({"response_0_harm_category": []}, "response_0_harm_category", "must be an object"),
        ({"response_0_harm_category": {"Violence": 1}}, "response_0_harm_category", "'Violence'"),
        ({"prompt_source": None}, "prompt_source", "not null"),
        ({"response_0": "a\x00b"}, "response_0", "NUL"),
        ({"response_1_sha256": 7}, "response_1_sha256", "must be a hex string, not a number"),
    ],
)


@BAD_SAFERLHF_FIELDS
def test_a_bad_saferlhf_field_is_named(change, field, message):
    row = {**sample_rows()[1], **change}
    with pytest.raises(BadRow) as caught:
        saferlhf()(row, 1)
    assert caught.value.field == field and message in caught.value.message


def test_a_missing_saferlhf_field_is_named():
    row = sample_rows()[1]
    del row["safer_response_id"]
    with pytest.raises(BadRow) as caught:
        saferlhf()(row, 1)
    assert (caught.value.field, caught.value.message) == ("safer_response_id", "missing")


# SafeRLHF JSON lines are decoded straight into typed rows (msgspec); whatever that decoder
# refuses goes the general way, so both ways must reach the same verdict on every row.


def rows_that_tell_the_rules_apart() -> list[dict]:
    rows = sample_rows()
    return [
        *rows,
        {**rows[1], "better_response_id": 0, "safer_response_id": 1},
        {**rows[1], "is_response_0_safe": True, "is_response_1_safe": True},
    ]


@pytest.mark.parametrize("rule", ["safe-better", "safe"])
def test_typed_json_lines_give_the_same_drafts_as_parsed_objects(rule):
    convert = saferlhf(rule, config="Alpaca-7B", split="test")
    drafts = []
    for index, row in enumerate(rows_that_tell_the_rules_apart()):
        typed = decode_line(json.dumps(row, ensure_ascii=False).encode())
        assert isinstance(typed, SafeRLHFRow)
        drafts.append(convert(typed, index))
        assert drafts[-1] == convert(row, index)
    assert any(drafts) and None in drafts


@BAD_SAFERLHF_FIELDS
def test_a_bad_field_in_a_json_line_is_named_as_in_any_other_file(change, field, message):
    line = json.dumps({**sample_rows()[1], **change}).encode()
    typed = decode_line(line)
    if field.endswith("sha256") and isinstance(change[field], str):
        assert isinstance(typed, SafeRLHFRow)  # well-formed: the converter checks the hash
    else:
        assert typed is None  # left to the general path, which words the error
    with pytest.raises(BadRow) as caught:
        saferlhf()(typed or json.loads(line), 1)
    assert caught.value.field == field and message in caught.value.message


@pytest.mark.parametrize(
    "line",
    [
        b'{"prompt": "x"',  # malformed
        b"[1, 2]",  # not an object
        b'{"prompt": "\\u00e9\\ud800"}',  # unpaired surrogate
        b'{"prompt": "caf\xe9"}',  # not UTF-8
        b"{}",  # every field missing
    ],
)
def test_lines_the_typed_decoder_cannot_take_are_left_to_the_reader(line):
    assert decode_line(line) is None


def test_the_reader_falls_back_to_objects_where_the_line_decoder_declines(tmp_path):
    path = write(tmp_path, b'{"n": 1}\n{"n": 2}\nnot json\n[3]\n')

    def decode_odd(raw: bytes):
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return ("typed", value["n"]) if type(value) is dict and value["n"] % 2 else None

    records = list(RecordStream(path, max_record_bytes=CAP, line_decoder=decode_odd))
    assert records[:2] == [(1, ("typed", 1)), (2, {"n": 2})]
    assert [(line, type(record)) for line, record in records[2:]] == [(3, RowError), (4, RowError)]
    assert "malformed JSON" in records[2][1].message
    assert "must be a JSON object" in records[3][1].message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("data/Alpaca-7B/test.jsonl", ("Alpaca-7B", "test")),
        ("/x/Alpaca3-8B/train.parquet", ("Alpaca3-8B", "train")),
        ("data/train-00000-of-00001.parquet", (None, "train")),
        ("test.jsonl", (None, "test")),
        ("/var/media/imports/17/test.jsonl", (None, "test")),
        ("pku_saferlhf_alpaca7b_test_sample.jsonl", (None, None)),
        ("Alpaca-7B/latest.jsonl", (None, None)),
    ],
)
def test_config_and_split_are_inferred_only_from_a_dataset_layout(name, expected):
    assert infer_config_split(name) == expected


def test_config_and_split_given_as_options_win_over_the_file_name():
    draft = saferlhf(file_name="Alpaca-7B/test.jsonl", config="alpaca-7b")(sample_rows()[1], 0)
    assert (draft.origin["config"], draft.origin["split"]) == ("alpaca-7b", "test")


# CValues.


def test_a_cvalues_prompt_becomes_a_seed_with_its_domain():
    convert = get_format("cvalues").make_converter(ImportOptions(rule="all"))
    record = {"id_": 7, "prompt": "问题？", "domain_en": "law", "domain_zh": "法理学"}
    draft = convert(record, 6)
    assert (draft.instruction, draft.output, draft.status, draft.source) == (
        "问题？",
        "",
        "seed",
        "synthetic",
    )
    assert draft.source_key == "cvalues:7"
    assert draft.origin["domain"] == "law" and draft.origin["domain_zh"] == "法理学"
    assert draft.origin["license"] == "Apache-2.0" and draft.origin["row"] == 6


def test_a_cvalues_comparison_pair_keeps_the_positive_response_as_reference():
    convert = get_format("cvalues-comparison").make_converter(ImportOptions(rule="all"))
    record = {
        "prompt": "问",
        "pos_resp": "好的回答",
        "neg_resp": "坏的回答",
        "pos_type": "拒绝为主",
        "neg_type": "风险回复",
    }
    draft = convert(record, 0)
    assert (draft.instruction, draft.output, draft.status) == ("问", "", "seed")
    assert draft.origin["reference_output"] == "好的回答"
    assert (draft.origin["pos_type"], draft.origin["neg_type"]) == ("拒绝为主", "风险回复")
    assert draft.origin["dataset"] == "X-PLUG/CValues-Comparison"
    assert draft.source_key == f"cvalues-comparison:{response_sha256('问', '好的回答')}"
    assert "坏的回答" not in json.dumps(draft.origin, ensure_ascii=False)


# VAD records.


def vad(record: dict):
    return get_format("vad").make_converter(ImportOptions(rule="all", file_name="x/hand.jsonl"))(
        record, 0
    )


VAD_RECORD = {
    "instruction": "  如何看待诚信？\r\n",
    "input": "",
    "output": "诚信是立身之本。 ",
    "source": "manual",
    "categorization": "person",
}


def test_a_vad_record_is_a_candidate_with_its_text_kept_exactly():
    draft = vad({**VAD_RECORD, "meta": {"id": 3, "ifd": 0.5}})
    assert draft.instruction == "  如何看待诚信？\r\n" and draft.output == "诚信是立身之本。 "
    assert (draft.status, draft.categorization, draft.source_key) == ("candidate", "person", None)
    assert draft.origin == {"dataset": "vad", "file": "hand.jsonl", "row": 0}
    assert draft.content_hash == content_hash(
        instruction="如何看待诚信？",
        input="",
        output="诚信是立身之本。",
        source="manual",
        categorization="person",
    )


@pytest.mark.parametrize("categorization", [None, ""])
def test_a_vad_record_may_leave_categorization_out_or_empty(categorization):
    record = {k: v for k, v in VAD_RECORD.items() if k != "categorization"}
    if categorization is not None:
        record["categorization"] = categorization
    assert vad(record).categorization == ""


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"categorization": "family"}, "categorization", "'family' is not one of person, social"),
        ({"source": "crawled"}, "source", "'crawled' is not one of manual, synthetic"),
        ({"instruction": ""}, "instruction", "must not be empty"),
        ({"output": "   "}, "output", "must not be empty"),
        ({"input": None}, "input", "must be a string, not null"),
        ({"instruction": ["a"]}, "instruction", "not an array"),
        ({"categorisation": "person"}, "categorisation", "unknown key"),
    ],
)
def test_a_bad_vad_record_names_the_field(change, field, message):
    with pytest.raises(BadRow) as caught:
        vad({**VAD_RECORD, **change})
    assert caught.value.field == field and message in caught.value.message


def test_a_vad_record_without_output_names_the_missing_field():
    with pytest.raises(BadRow) as caught:
        vad({k: v for k, v in VAD_RECORD.items() if k != "output"})
    assert (caught.value.field, caught.value.message) == ("output", "missing")
