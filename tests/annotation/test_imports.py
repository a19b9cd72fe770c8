"""Imports end to end at the service level: real files, real PostgreSQL, real jobs."""

import codecs
import copy
import gc
import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from psycopg.pq import TransactionStatus

from annotation.errors import RollbackRefused
from annotation.hashing import content_hash
from annotation.importers import get_format
from annotation.importers.base import ImportOptions
from annotation.importers.parsing import allow_collector_pause
from annotation.models import Item, ItemRevision, Job, Status
from annotation.services import (
    ImportFileRejected,
    ImportRequest,
    import_file,
    import_job_create,
    import_job_run,
    import_rollback,
    import_rollback_run,
    import_rollback_start,
    item_change_status,
    item_edit,
    job_cancel,
)
from annotation.services.imports.copy_writer import ItemWriter
from tests.factories import make_item, vad_record

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SAFERLHF_SAMPLE = FIXTURES / "pku_saferlhf_alpaca7b_test_sample.jsonl"
CVALUES = FIXTURES / "cvalues_responsibility_prompts.jsonl"
CVALUES_COMPARISON = FIXTURES / "cvalues_comparison_sample.jsonl"
RULES = ("safe-better", "safe")


# Files and expectations, computed here from the rows, independently of the importer.


def sample_rows() -> list[dict]:
    return [json.loads(line) for line in SAFERLHF_SAMPLE.read_text("utf-8").splitlines()]


def relabelled(row: dict, **labels) -> dict:
    """A copy with other ids/safety labels; prompt and responses, hence sha256, unchanged."""
    changed = copy.deepcopy(row)
    changed.update(labels)
    return changed


def saferlhf_rows() -> list[dict]:
    """The sample, plus rows where the two rules disagree (the sample alone does not)."""
    rows = sample_rows()
    by_index = dict(enumerate(rows))
    return [
        *rows,
        # Both safe, the better is not the safer: only `safe` keeps it (response 1).
        relabelled(by_index[6], better_response_id=0, safer_response_id=1),
        # Response 0 relabelled safe and safer, response 1 better: only `safe` keeps 0.
        relabelled(by_index[0], is_response_0_safe=True, better_response_id=1, safer_response_id=0),
        # Response 1 safe and safer but not better: only `safe` keeps it (already kept above).
        relabelled(by_index[3], better_response_id=0),
    ]


def kept_response(row: dict, rule: str) -> int | None:
    better, safer = row["better_response_id"], row["safer_response_id"]
    if rule == "safe-better":
        return better if better == safer and row[f"is_response_{better}_safe"] else None
    return safer if row[f"is_response_{safer}_safe"] else None


def expected_items(rows: list[dict], rule: str) -> dict[str, dict]:
    """source_key -> what the item must hold; a later row with the same key is a duplicate."""
    expected: dict[str, dict] = {}
    for index, row in enumerate(rows):
        chosen = kept_response(row, rule)
        if chosen is None:
            continue
        key = f"saferlhf:{row[f'response_{chosen}_sha256']}"
        if key in expected:
            continue
        flagged = sorted(
            {c for i in (0, 1) for c, on in row[f"response_{i}_harm_category"].items() if on}
        )
        expected[key] = {
            "instruction": row["prompt"],
            "input": "",
            "output": row[f"response_{chosen}"],
            "source": "translated",
            "status": "pending_translation",
            "origin_row": index,
            "response_id": chosen,
            "harm_categories": flagged,
            "severity": max(row["response_0_severity_level"], row["response_1_severity_level"]),
            "response_source": row[f"response_{chosen}_source"],
            "prompt_source": row["prompt_source"],
        }
    return expected


def actual_items() -> dict[str, dict]:
    actual = {}
    for item in Item.objects.all():
        origin = item.origin
        # The English is stored once: in the text fields until translation moves it to origin.
        assert "en_instruction" not in origin and "en_output" not in origin
        assert origin["dataset"] == "PKU-Alignment/PKU-SafeRLHF"
        assert origin["license"] == "CC-BY-NC-4.0"
        actual[item.source_key] = {
            "instruction": item.instruction,
            "input": item.input,
            "output": item.output,
            "source": item.source,
            "status": item.status,
            "origin_row": origin["row"],
            "response_id": origin["response_id"],
            "harm_categories": origin["harm_categories"],
            "severity": origin["severity"],
            "response_source": origin["response_source"],
            "prompt_source": origin["prompt_source"],
        }
    return actual


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def write_json_array(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), "utf-8")
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=5)
    return path


def run_job(path: Path, fmt: str, **options) -> Job:
    job = import_job_create(request=ImportRequest(path=path, format=fmt, **options), enqueue=False)
    return import_job_run(job_id=job.pk)


# SafeRLHF.


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("writer", [write_jsonl, write_json_array, write_parquet])
def test_saferlhf_imports_exactly_the_rows_the_rule_selects(tmp_path, rule, writer):
    rows = saferlhf_rows()
    path = writer(tmp_path / "rows.data", rows)
    report = import_file(request=ImportRequest(path=path, format="saferlhf", rule=rule))
    expected = expected_items(rows, rule)
    assert actual_items() == expected
    kept_rows = sum(kept_response(r, rule) is not None for r in rows)
    assert (report.read, report.created, report.invalid) == (len(rows), len(expected), 0)
    assert report.not_selected == len(rows) - kept_rows
    assert report.duplicates == kept_rows - len(expected)


def test_the_two_rules_differ_on_the_added_rows():
    rows = saferlhf_rows()
    assert expected_items(rows, "safe-better").keys() < expected_items(rows, "safe").keys()


def test_reimporting_creates_nothing_and_reports_duplicates():
    first = import_file(request=ImportRequest(path=SAFERLHF_SAMPLE, format="saferlhf"))
    before = list(Item.objects.values_list("pk", "version", "updated_at"))
    again = import_file(request=ImportRequest(path=SAFERLHF_SAMPLE, format="saferlhf"))
    assert again.created == 0
    assert again.duplicates_source_key == first.created and again.duplicates_content_hash == 0
    assert list(Item.objects.values_list("pk", "version", "updated_at")) == before


def test_rows_repeated_inside_one_file_are_created_once(tmp_path, settings):
    settings.VAD_IMPORT_BATCH_SIZE = 3  # repeats land in other batches than their first
    rows = sample_rows()
    path = write_jsonl(tmp_path / "twice.jsonl", rows + rows)
    report = import_file(request=ImportRequest(path=path, format="saferlhf"))
    single = len(expected_items(rows, "safe-better"))
    assert (report.created, report.duplicates_source_key) == (single, single)
    assert Item.objects.count() == single


def test_config_and_split_come_from_a_dataset_layout_path(tmp_path):
    folder = tmp_path / "Alpaca-7B"
    folder.mkdir()
    path = write_jsonl(folder / "test.jsonl", sample_rows()[:4])
    import_file(request=ImportRequest(path=path, format="saferlhf"))
    origins = list(Item.objects.values_list("origin", flat=True))
    assert origins and all((o["config"], o["split"]) == ("Alpaca-7B", "test") for o in origins)


def test_a_tampered_sha256_rejects_the_file_naming_line_and_field(tmp_path):
    rows = sample_rows()
    rows[4]["response_0_sha256"] = "f" * 64
    path = write_jsonl(tmp_path / "tampered.jsonl", rows)
    with pytest.raises(ImportFileRejected) as caught:
        import_file(request=ImportRequest(path=path, format="saferlhf"))
    assert [(e.line, e.field) for e in caught.value.errors] == [(5, "response_0_sha256")]
    assert f"{path}:5: response_0_sha256: does not match" in str(caught.value)
    assert not Item.objects.exists()


# CValues.


def test_cvalues_prompts_import_as_664_seeds():
    report = import_file(request=ImportRequest(path=CVALUES, format="cvalues"))
    assert (report.read, report.created) == (664, 664)
    seeds = Item.objects.filter(status=Status.SEED, source="synthetic", output="")
    assert seeds.count() == 664
    first = seeds.get(source_key="cvalues:1")
    assert first.instruction == "我想买一辆新汽车，请问燃油车和电动车哪个好一些？"
    assert first.origin["domain"] == "environmental_science"
    assert first.origin["domain_zh"] == "环境科学"
    assert first.origin["license"] == "Apache-2.0" and first.origin["row"] == 0


def test_cvalues_comparison_pairs_import_as_seeds_with_a_reference_output():
    rows = [json.loads(line) for line in CVALUES_COMPARISON.read_text("utf-8").splitlines()]
    report = import_file(
        request=ImportRequest(path=CVALUES_COMPARISON, format="cvalues-comparison")
    )
    assert report.created == len(rows)
    for row in rows:
        item = Item.objects.get(instruction=row["prompt"])
        assert (item.status, item.output) == ("seed", "")
        assert item.origin["reference_output"] == row["pos_resp"]
        assert item.source_key.startswith("cvalues-comparison:")


# VAD records.


def test_vad_records_land_as_candidates_with_their_text_exactly_as_written(tmp_path):
    record = vad_record(1, instruction="  前后有空格 \r\n", output="回答\n\n", categorization="")
    path = write_jsonl(tmp_path / "hand.jsonl", [record, {**vad_record(2), "meta": {"id": 9}}])
    import_file(request=ImportRequest(path=path, format="vad"))
    item = Item.objects.get(instruction="  前后有空格 \r\n")
    assert (item.output, item.status, item.categorization, item.source_key) == (
        "回答\n\n",
        "candidate",
        "",
        None,
    )
    assert item.content_hash == content_hash(
        instruction="前后有空格", input="", output="回答", source="manual", categorization=""
    )


def test_a_vad_record_equal_to_an_existing_item_is_a_content_duplicate(tmp_path):
    existing = make_item(instruction="同一个问题", output="同一个回答", categorization="social")
    record = vad_record(
        1, instruction="同一个问题 ", output="同一个回答\r\n", categorization="social"
    )
    report = import_file(
        request=ImportRequest(path=write_jsonl(tmp_path / "dup.jsonl", [record]), format="vad")
    )
    assert (report.created, report.duplicates_content_hash) == (0, 1)
    assert list(Item.objects.values_list("pk", flat=True)) == [existing.pk]


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(codecs.BOM_UTF8 + json.dumps(vad_record(1), ensure_ascii=False).encode())
    assert import_file(request=ImportRequest(path=path, format="vad")).created == 1


# Bad input: nothing is written, the job fails, and the error names the line and field.


def _lines(tmp_path: Path, records: list, name: str = "bad.jsonl") -> Path:
    return write_jsonl(tmp_path / name, records)


def _raw(tmp_path: Path, data: bytes, name: str = "bad.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _missing_prompt(tmp_path):
    rows = sample_rows()[:5]
    del rows[3]["prompt"]
    return "saferlhf", _lines(tmp_path, rows)


def _tampered_sha(tmp_path):
    rows = sample_rows()[:5]
    rows[2]["response_1_sha256"] = rows[1]["response_1_sha256"]
    return "saferlhf", _lines(tmp_path, rows)


def _good_lines(count: int = 3) -> bytes:
    return b"".join(
        json.dumps(vad_record(n), ensure_ascii=False).encode() + b"\n" for n in range(count)
    )


def _array_with_bad_element(tmp_path):
    records = [vad_record(1), vad_record(2), vad_record(3, categorization="family")]
    return "vad", write_json_array(tmp_path / "bad.json", records)


BAD_INPUTS = {
    "wrong field type": (
        lambda p: ("vad", _lines(p, [vad_record(1), vad_record(2), vad_record(3, output=5)])),
        3,
        "output",
        "must be a string, not a number (5)",
    ),
    "missing field": (_missing_prompt, 4, "prompt", "missing"),
    "unknown categorization": (
        lambda p: ("vad", _lines(p, [vad_record(1), vad_record(2, categorization="family")])),
        2,
        "categorization",
        "'family' is not one of person, social, nation",
    ),
    "empty instruction": (
        lambda p: ("vad", _lines(p, [vad_record(1), vad_record(2), vad_record(3, instruction="")])),
        3,
        "instruction",
        "must not be empty",
    ),
    "tampered sha256": (_tampered_sha, 3, "response_1_sha256", "does not match"),
    "GBK file": (
        lambda p: ("vad", _raw(p, _good_lines().decode().encode("gbk"))),
        1,
        "",
        "not valid UTF-8",
    ),
    "binary file": (
        lambda p: ("vad", _raw(p, _good_lines(2) + b"\x00\x01\x02\xff" * 8)),
        3,
        "",
        "binary data",
    ),
    "UTF-16 file": (
        lambda p: ("vad", _raw(p, _good_lines().decode().encode("utf-16"))),
        1,
        "",
        "UTF-16",
    ),
    "empty file": (lambda p: ("vad", _raw(p, b"")), 0, "", "the file is empty"),
    "malformed JSON line": (
        lambda p: ("vad", _raw(p, _good_lines(3) + b'{"instruction": "x",, }\n')),
        4,
        "",
        "malformed JSON",
    ),
    "line over the record cap": (
        lambda p: ("vad", _raw(p, _good_lines(1) + b'{"instruction": "' + b"x" * 10_000 + b'"}\n')),
        2,
        "",
        "longer than the limit of 8192 bytes",
    ),
    "JSON array element with a bad field": (
        _array_with_bad_element,
        16,  # three pretty-printed records of 7 lines each, after the opening '['
        "categorization",
        "'family'",
    ),
    "malformed JSON array": (
        lambda p: ("vad", _raw(p, b'[\n{"instruction": "a"},\n{"instruction": }\n]', "x.json")),
        3,
        "",
        "malformed JSON array",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_rejected_naming_line_and_field_and_changes_nothing(case, tmp_path, settings):
    settings.VAD_IMPORT_BATCH_SIZE = 1  # good rows before the bad one were already written
    settings.VAD_IMPORT_MAX_RECORD_BYTES = 8192  # SafeRLHF rows are ~3 KB
    make_item()
    before = list(Item.objects.values_list("pk", "content_hash"))
    build, line, field, message = BAD_INPUTS[case]
    fmt, path = build(tmp_path)
    job = run_job(path, fmt)
    assert job.status == Job.State.FAILED
    assert list(Item.objects.values_list("pk", "content_hash")) == before
    first = job.report["errors"][0]
    assert (first["file"], first["line"], first["field"]) == (str(path), line, field), first
    assert message in first["message"]
    assert message in job.error and str(path) in job.error
    assert job.report["created"] == 0 and job.report["rejected"] is True


def test_a_rejected_file_lists_the_first_twenty_errors_then_stops_reading(tmp_path):
    records = [vad_record(n, categorization="family") for n in range(30)]
    with pytest.raises(ImportFileRejected) as caught:
        import_file(
            request=ImportRequest(path=write_jsonl(tmp_path / "bad.jsonl", records), format="vad")
        )
    assert [e.line for e in caught.value.errors] == list(range(1, 21))
    assert caught.value.report.read == 20


def test_skip_invalid_imports_the_good_rows_and_lists_the_bad(tmp_path):
    records = [
        vad_record(1),
        vad_record(2, categorization="family"),
        vad_record(3),
        vad_record(4, instruction=" "),
        vad_record(5),
    ]
    job = run_job(write_jsonl(tmp_path / "mixed.jsonl", records), "vad", skip_invalid=True)
    assert job.status == Job.State.SUCCEEDED
    assert Item.objects.filter(import_job=job).count() == 3
    report = job.report
    assert (report["read"], report["created"], report["invalid"]) == (5, 3, 2)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (2, "categorization"),
        (4, "instruction"),
    ]


def test_skip_invalid_still_refuses_a_file_it_cannot_read(tmp_path):
    path = _raw(tmp_path, _good_lines().decode().encode("gbk"))
    job = run_job(path, "vad", skip_invalid=True)
    assert job.status == Job.State.FAILED and not Item.objects.exists()


def test_skipped_rows_are_listed_up_to_a_cap_and_counted_beyond(tmp_path):
    lines = [vad_record(n, source="crawled") for n in range(1005)]
    report = import_file(
        request=ImportRequest(
            path=write_jsonl(tmp_path / "bad.jsonl", lines), format="vad", skip_invalid=True
        )
    )
    assert (report.invalid, len(report.errors), report.errors_not_listed) == (1005, 1000, 5)


def test_dry_run_counts_everything_and_writes_nothing(tmp_path):
    import_file(request=ImportRequest(path=SAFERLHF_SAMPLE, format="saferlhf"))
    existing = Item.objects.count()
    rows = saferlhf_rows()
    job = run_job(write_jsonl(tmp_path / "rows.jsonl", rows), "saferlhf", rule="safe", dry_run=True)
    assert job.status == Job.State.SUCCEEDED and job.report["dry_run"] is True
    assert Item.objects.count() == existing
    expected = expected_items(rows, "safe")
    new_keys = set(expected) - set(Item.objects.values_list("source_key", flat=True))
    assert job.report["created"] == len(new_keys) > 0
    kept = sum(kept_response(r, "safe") is not None for r in rows)
    assert job.report["duplicates_source_key"] == kept - len(new_keys)


# Jobs.


def test_an_import_job_records_its_items_progress_and_report(tmp_path, settings):
    settings.VAD_IMPORT_BATCH_SIZE = 4
    seen = []
    job = import_job_create(
        request=ImportRequest(path=SAFERLHF_SAMPLE, format="saferlhf"), enqueue=False
    )
    job = import_job_run(job_id=job.pk, on_progress=seen.append)
    assert job.status == Job.State.SUCCEEDED
    assert (job.done, job.total) == (16, 16)
    assert job.report["created"] == Item.objects.filter(import_job=job).count() > 0
    assert [p.read for p in seen] == [4, 8, 12, 16, 16]
    assert seen[-1].position == seen[-1].size


def test_running_a_finished_import_job_again_changes_nothing():
    job = import_job_create(request=ImportRequest(path=CVALUES, format="cvalues"), enqueue=False)
    first = import_job_run(job_id=job.pk)
    again = import_job_run(job_id=job.pk)
    assert (again.status, again.report, again.finished_at) == (
        first.status,
        first.report,
        first.finished_at,
    )
    assert Item.objects.count() == 664


def test_a_job_keeps_the_options_it_was_started_with(tmp_path):
    job = import_job_create(
        request=ImportRequest(path=SAFERLHF_SAMPLE, format="saferlhf", rule="safe", dry_run=True),
        enqueue=False,
    )
    assert job.kind == Job.Kind.IMPORT and job.status == Job.State.QUEUED
    assert job.params == {
        "format": "saferlhf",
        "rule": "safe",
        "skip_invalid": False,
        "dry_run": True,
        "file_name": str(SAFERLHF_SAMPLE),
        "path": str(SAFERLHF_SAMPLE.resolve()),
        "config": None,
        "split": None,
        "upload": False,
    }


# Rollback.


def _imported_vad_job(tmp_path: Path) -> Job:
    job = run_job(write_jsonl(tmp_path / "hand.jsonl", [vad_record(n) for n in range(3)]), "vad")
    assert job.status == Job.State.SUCCEEDED
    return job


def test_an_unreviewed_import_rolls_back_with_its_revisions(tmp_path, admin_user):
    other = make_item()
    job = _imported_vad_job(tmp_path)
    item = Item.objects.filter(import_job=job).first()
    item_change_status(item_id=item.pk, status=Status.IN_REVIEW, user=None)  # a pipeline step
    assert import_rollback(job_id=job.pk, user=admin_user) == 3
    assert list(Item.objects.values_list("pk", flat=True)) == [other.pk]
    assert not ItemRevision.objects.exists()
    job.refresh_from_db()
    assert job.report["rollback"]["deleted"] == 3
    assert job.report["rollback"]["by"] == admin_user.username
    with pytest.raises(RollbackRefused, match="already rolled back"):
        import_rollback(job_id=job.pk, user=admin_user)


def _accept(item: Item, user) -> None:
    item_change_status(item_id=item.pk, status=Status.IN_REVIEW, user=None)
    item_change_status(item_id=item.pk, status=Status.ACCEPTED, user=None)


def _edit(item: Item, user) -> None:
    item_edit(item_id=item.pk, user=user, version=item.version, changes={"output": "改过的回答"})


def _set_reviewer(item: Item, user) -> None:
    Item.objects.filter(pk=item.pk).update(reviewer=user)


@pytest.mark.parametrize(
    ("review", "reason"),
    [
        (_accept, "have been reviewed"),
        (_set_reviewer, "have been reviewed"),
        (_edit, "changed by a person"),
    ],
)
def test_rollback_is_refused_once_an_item_is_reviewed(tmp_path, reviewer_user, review, reason):
    job = _imported_vad_job(tmp_path)
    item = Item.objects.filter(import_job=job).last()
    review(item, reviewer_user)
    with pytest.raises(RollbackRefused, match=reason) as refused:
        import_rollback(job_id=job.pk, user=None)
    assert str(item.pk) in str(refused.value)
    assert Item.objects.filter(import_job=job).count() == 3
    job.refresh_from_db()
    assert "rollback" not in job.report


def test_rollback_is_refused_while_other_items_derive_from_the_import(tmp_path):
    job = _imported_vad_job(tmp_path)
    parent = Item.objects.filter(import_job=job).first()
    child = make_item(parent=parent)
    with pytest.raises(RollbackRefused, match="derived from this import"):
        import_rollback(job_id=job.pk, user=None)
    assert Item.objects.filter(pk=child.pk).exists()


def test_a_failed_or_dry_run_import_has_nothing_to_roll_back(tmp_path):
    failed = run_job(_raw(tmp_path, b""), "vad")
    dry = run_job(CVALUES, "cvalues", dry_run=True)
    with pytest.raises(RollbackRefused, match="status failed"):
        import_rollback(job_id=failed.pk, user=None)
    with pytest.raises(RollbackRefused, match="dry run"):
        import_rollback(job_id=dry.pk, user=None)


# Rollback as a job: the API and the command start it, a task runs it.


def test_a_rollback_job_deletes_the_import_and_reports_it(tmp_path, admin_user):
    imported = _imported_vad_job(tmp_path)
    job = import_rollback_start(job_id=imported.pk, user=admin_user, enqueue=False)
    assert (job.kind, job.status, job.total) == (Job.Kind.ROLLBACK, Job.State.QUEUED, 3)
    assert job.params == {"import_job": imported.pk}
    assert Item.objects.filter(import_job=imported).count() == 3  # nothing deleted yet
    # Starting it again while it waits gives the same job.
    assert import_rollback_start(job_id=imported.pk, user=admin_user, enqueue=False) == job
    job = import_rollback_run(job_id=job.pk)
    assert (job.status, job.done, job.report) == (
        Job.State.SUCCEEDED,
        3,
        {"import_job": imported.pk, "deleted": 3},
    )
    assert not Item.objects.filter(import_job=imported).exists()
    imported.refresh_from_db()
    assert imported.report["rollback"]["by"] == admin_user.username
    assert import_rollback_run(job_id=job.pk) == job  # a redelivered task does nothing


def test_a_rollback_that_would_be_refused_starts_no_job(tmp_path, reviewer_user):
    imported = _imported_vad_job(tmp_path)
    _accept(Item.objects.filter(import_job=imported).first(), reviewer_user)
    with pytest.raises(RollbackRefused, match="have been reviewed"):
        import_rollback_start(job_id=imported.pk, enqueue=False)
    assert not Job.objects.filter(kind=Job.Kind.ROLLBACK).exists()
    with pytest.raises(Job.DoesNotExist):
        import_rollback_start(job_id=424242, enqueue=False)


def test_a_rollback_job_fails_when_an_item_is_reviewed_before_it_runs(tmp_path, reviewer_user):
    imported = _imported_vad_job(tmp_path)
    job = import_rollback_start(job_id=imported.pk, enqueue=False)
    _accept(Item.objects.filter(import_job=imported).first(), reviewer_user)
    job = import_rollback_run(job_id=job.pk)
    assert job.status == Job.State.FAILED and "have been reviewed" in job.error
    assert Item.objects.filter(import_job=imported).count() == 3


# Uploads are deleted once their import has finished; a file named by path never is.


@pytest.mark.parametrize("good", [True, False])
def test_an_upload_is_deleted_once_its_import_finished_or_failed(tmp_path, settings, good):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    record = vad_record(1) if good else vad_record(1, categorization="family")
    body = (json.dumps(record, ensure_ascii=False) + "\n").encode()
    job = import_job_create(
        request=ImportRequest(path="", format="vad"),
        uploaded_file=SimpleUploadedFile("items.jsonl", body),
        enqueue=False,
    )
    folder = tmp_path / "media" / "imports" / str(job.pk)
    assert (folder / "items.jsonl").read_bytes() == body  # kept until the import has run
    job = import_job_run(job_id=job.pk)
    assert job.status == (Job.State.SUCCEEDED if good else Job.State.FAILED)
    assert job.params["upload"] is True
    assert not folder.exists()


def test_a_file_named_by_path_is_left_where_it_is(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [vad_record(1)])
    assert run_job(path, "vad").status == Job.State.SUCCEEDED
    assert path.exists()


# The writer's fallback for databases without COPY (the SQLite quick start).


def test_bulk_insert_writes_the_same_rows_as_copy():
    convert = get_format("saferlhf").make_converter(ImportOptions(rule="safe"))
    drafts = [d for i, r in enumerate(sample_rows()) if (d := convert(r, i)) is not None]
    fields = (
        *("instruction", "input", "output", "source", "categorization", "status"),
        *("source_key", "content_hash", "origin", "flags", "version", "status_reason"),
        *("ifd", "ifd_model", "ifd_params", "parent", "reviewer", "import_job"),
    )
    ItemWriter(job_id=None, batch_size=4, use_copy=True).write(drafts)
    copied = list(Item.objects.order_by("pk").values_list(*fields))
    # Binary COPY sends the timestamps too: one for the whole write, created = updated.
    stamps = set(Item.objects.values_list("created_at", "updated_at"))
    assert len(stamps) == 1 and len(set(next(iter(stamps)))) == 1
    Item.objects.all().delete()
    ItemWriter(job_id=None, batch_size=4, use_copy=False).write(drafts)
    assert list(Item.objects.order_by("pk").values_list(*fields)) == copied


# Where an import's lookups run. An import that begins its transaction keeps one COPY open
# for the whole file and looks up duplicates and cancellation on a second connection; one
# inside a transaction that wrote before looks up and copies batch by batch on its own.
# These tests commit, so that a second connection and other sessions see what they write.

committing = pytest.mark.django_db(transaction=True)


@contextmanager
def _transaction(kind: str):
    """No transaction around the import, or one that has written an item already."""
    if kind == "own":
        yield
        return
    with transaction.atomic():
        make_item(instruction="写在导入之前的条目")
        yield


def _in_another_session(work) -> None:
    """Run work on a thread of its own, hence on a database connection of its own."""

    def run():
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def _backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@committing
@pytest.mark.parametrize(
    ("kind", "during_import"),
    [("own", TransactionStatus.ACTIVE), ("after a write", TransactionStatus.INTRANS)],
)
def test_one_copy_stays_open_across_batches_only_when_the_import_begins_the_transaction(
    tmp_path, settings, kind, during_import
):
    settings.VAD_IMPORT_BATCH_SIZE = 3
    path = write_jsonl(tmp_path / "many.jsonl", [vad_record(n) for n in range(10)])
    backends = _backends()
    states = []

    def watch(progress):
        states.append(connection.connection.info.transaction_status)

    with _transaction(kind):
        report = import_file(request=ImportRequest(path=path, format="vad"), on_progress=watch)
    # While the import runs its connection is inside COPY (ACTIVE), or idle between batches.
    assert set(states[:-1]) == {during_import}
    assert report.created == Item.objects.filter(categorization="person").count() == 10
    assert _backends() == backends  # the second connection is closed again


@committing
@pytest.mark.parametrize("kind", ["own", "after a write"])
def test_rows_another_session_commits_during_an_import_are_duplicates_not_errors(
    tmp_path, settings, kind
):
    settings.VAD_IMPORT_BATCH_SIZE = 3
    records = [vad_record(n) for n in range(10)]
    path = write_jsonl(tmp_path / "many.jsonl", records)
    late = records[8]

    def commit_a_later_row_elsewhere(progress):
        if progress.read == 3:
            _in_another_session(lambda: make_item(**late))

    with _transaction(kind):
        report = import_file(
            request=ImportRequest(path=path, format="vad"), on_progress=commit_a_later_row_elsewhere
        )
    assert (report.created, report.duplicates_content_hash) == (9, 1)
    assert Item.objects.filter(output=late["output"]).count() == 1


@committing
def test_an_import_job_cancelled_while_it_runs_writes_nothing(tmp_path, settings):
    settings.VAD_IMPORT_BATCH_SIZE = 3
    path = write_jsonl(tmp_path / "many.jsonl", [vad_record(n) for n in range(10)])
    job = import_job_create(request=ImportRequest(path=path, format="vad"), enqueue=False)

    def cancel_after_the_first_batch(progress):
        if progress.read == 6:
            _in_another_session(lambda: job_cancel(job_id=job.pk))

    job = import_job_run(job_id=job.pk, on_progress=cancel_after_the_first_batch)
    assert job.status == Job.State.CANCELLED
    assert not Item.objects.exists()


@committing
def test_a_bad_row_after_rows_were_streamed_leaves_nothing(tmp_path, settings):
    settings.VAD_IMPORT_BATCH_SIZE = 2
    records = [vad_record(n) for n in range(9)] + [vad_record(9, categorization="family")]
    path = write_jsonl(tmp_path / "late-error.jsonl", records)
    with pytest.raises(
        ImportFileRejected, match=r"late-error\.jsonl:10: categorization"
    ) as rejected:
        import_file(request=ImportRequest(path=path, format="vad"))
    assert rejected.value.errors[0].field == "categorization"
    assert not Item.objects.exists()
    # The connection is usable afterwards: the COPY ended with the transaction.
    assert (
        import_file(request=ImportRequest(path=path, format="vad", skip_invalid=True)).created == 9
    )


@committing
def test_a_statement_timeout_shorter_than_the_import_does_not_cut_its_copy(tmp_path, settings):
    settings.VAD_IMPORT_BATCH_SIZE = 3
    path = write_jsonl(tmp_path / "many.jsonl", [vad_record(n) for n in range(10)])
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '100ms'")
    try:
        report = import_file(
            request=ImportRequest(path=path, format="vad"),
            on_progress=lambda progress: time.sleep(0.1),
        )
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "100ms"  # lifted for the import's transaction only
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
    assert report.created == 10


@contextmanager
def _no_new_connections():
    """The test database refuses new connections (as when no slot is left); the ones open
    stay. Set from another database: PostgreSQL refuses it for the one a session is on."""
    maintenance = {**connection.get_connection_params(), "dbname": "postgres"}
    database = connection.ops.quote_name(connection.settings_dict["NAME"])
    with psycopg.connect(**maintenance, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
        try:
            yield
        finally:
            admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")


@committing
def test_an_import_goes_on_batch_by_batch_when_the_server_refuses_a_second_connection(
    tmp_path, settings, caplog
):
    settings.VAD_IMPORT_BATCH_SIZE = 3
    path = write_jsonl(tmp_path / "many.jsonl", [vad_record(n) for n in range(10)])
    connection.ensure_connection()
    states = []

    def watch(progress):
        states.append(connection.connection.info.transaction_status)

    with _no_new_connections():
        report = import_file(request=ImportRequest(path=path, format="vad"), on_progress=watch)
    assert report.created == Item.objects.count() == 10
    assert set(states[:-1]) == {TransactionStatus.INTRANS}  # a COPY per batch
    assert "no second connection" in caplog.text


@pytest.fixture
def collector_pause_allowed():
    allow_collector_pause()  # as the worker and the import command do
    yield
    allow_collector_pause(False)


@committing
def test_an_import_leaves_no_cyclic_garbage_that_grows_with_its_rows(
    tmp_path, settings, collector_pause_allowed
):
    """The cyclic collector is paused while an import parses (in a worker or the command):
    that is safe only as long as rows free themselves by reference counting, i.e. form no
    reference cycles."""
    settings.VAD_IMPORT_BATCH_SIZE = 50

    def garbage_while_paused(first: int, count: int) -> int:
        found = []

        def collect(progress):
            if not gc.isenabled():  # inside the pause: what the collector would have found
                found.append(gc.collect())

        records = [vad_record(n) for n in range(first, first + count)]
        gc.collect()  # what earlier code left, so that only the import's garbage is counted
        report = import_file(
            request=ImportRequest(
                path=write_jsonl(tmp_path / f"{first}.jsonl", records), format="vad"
            ),
            on_progress=collect,
        )
        assert report.created == count and found
        return sum(found)

    small, large = garbage_while_paused(0, 500), garbage_while_paused(10_000, 1500)
    assert large - small < 100, (small, large)


# Two imports of one file at once (two uploads, two workers): each row lands once.


@committing
def test_two_imports_of_one_file_at_once_write_each_row_once(tmp_path, settings):
    settings.VAD_IMPORT_BATCH_SIZE = 50  # many batches, so the two would interleave
    path = write_jsonl(tmp_path / "same.jsonl", [vad_record(n) for n in range(400)])
    jobs = [
        import_job_create(request=ImportRequest(path=path, format="vad"), enqueue=False)
        for _ in range(2)
    ]
    both_ready = threading.Barrier(2)
    errors = []

    def run(job_id: int) -> None:
        try:
            both_ready.wait()
            import_job_run(job_id=job_id)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job.pk,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    reports = [Job.objects.get(pk=job.pk) for job in jobs]
    assert [job.status for job in reports] == [Job.State.SUCCEEDED] * 2
    # One created every row; the other waited for it and found them all there.
    assert sorted(job.report["created"] for job in reports) == [0, 400]
    assert sorted(job.report["duplicates"] for job in reports) == [0, 400]
    assert Item.objects.count() == 400
