"""Hostile import files: every one is refused with `file:line: field: message`, within bounded
memory, instead of a traceback or gigabytes of RAM."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.db import connection

from annotation.importers import RecordStream, UnreadableFile
from annotation.models import Item, Job
from annotation.services import ImportRequest, import_job_create, import_job_run

REPO_ROOT = Path(settings.BASE_DIR)
HUGE = 20_000_000  # bytes in one string of the hostile Parquet file
ROWS = 40
GIB = 1 << 30


def hostile_parquet(path: Path, *, rows_per_group: int) -> Path:
    """40 rows whose `prompt` is a 20 MB string: ~30 KB with zstd, 800 MB uncompressed.

    The 40 rows are one 1-row array repeated, so building the file costs one string."""
    one = pa.array(["x" * HUGE], type=pa.string())
    table = pa.table({"prompt": pa.chunked_array([one] * ROWS), "response_0": ["ok"] * ROWS})
    pq.write_table(table, path, compression="zstd", row_group_size=rows_per_group)
    assert path.stat().st_size < 100_000
    return path


def dictionary_bomb(path: Path) -> Path:
    """4,000 rows that all refer to one 1 MB string in a dictionary: under 1 KB on disk,
    1 MB as the metadata tells it, 4 GB once decoded."""
    rows = 4000
    prompt = pa.DictionaryArray.from_arrays(
        pa.array([0] * rows, type=pa.int32()), pa.array(["y" * 1_000_000])
    )
    table = pa.table({"prompt": prompt, "response_0": ["ok"] * rows})
    pq.write_table(table, path, compression="zstd", dictionary_pagesize_limit=8 << 20)
    assert path.stat().st_size < 2000
    return path


@pytest.fixture(scope="module")
def one_big_row_group(tmp_path_factory) -> Path:
    return hostile_parquet(tmp_path_factory.mktemp("hostile") / "one.parquet", rows_per_group=40)


@pytest.fixture(scope="module")
def one_row_per_group(tmp_path_factory) -> Path:
    return hostile_parquet(tmp_path_factory.mktemp("hostile") / "many.parquet", rows_per_group=1)


def import_errors(path: Path, fmt: str = "saferlhf", **options) -> tuple[Job, list[str]]:
    request = ImportRequest(path=str(path), format=fmt, **options)
    job = import_job_run(job_id=import_job_create(request=request, enqueue=False).pk)
    errors = job.report.get("errors", [])
    return job, [f"{e['file']}:{e['line']}: {e['field']}: {e['message']}" for e in errors]


# Parquet.


@pytest.mark.django_db
def test_a_parquet_row_group_over_the_limit_is_refused_from_its_metadata(one_big_row_group):
    job, errors = import_errors(one_big_row_group, dry_run=True)
    assert job.status == Job.State.FAILED
    assert len(errors) == 1
    assert errors[0].startswith(f"{one_big_row_group}:1: prompt: row group 1 (rows 1-40) holds")
    assert "VAD_IMPORT_MAX_ROW_GROUP_BYTES" in errors[0]


def test_the_row_group_limit_is_checked_before_anything_is_decompressed(one_big_row_group):
    stream = RecordStream(one_big_row_group, max_record_bytes=1 << 24, max_row_group_bytes=1000)
    with pytest.raises(UnreadableFile) as caught:
        next(iter(stream))
    assert caught.value.error.line == 1
    assert caught.value.error.field == "prompt"
    assert "800,001," in caught.value.error.message  # the size the metadata gives


@pytest.mark.django_db
def test_a_parquet_record_over_the_record_limit_is_refused_naming_row_and_field(
    one_row_per_group,
):
    job, errors = import_errors(one_row_per_group, dry_run=True)
    assert job.status == Job.State.FAILED
    assert errors[0] == (
        f"{one_row_per_group}:1: prompt: record is longer than the limit of "
        f"{settings.VAD_IMPORT_MAX_RECORD_BYTES} bytes (VAD_IMPORT_MAX_RECORD_BYTES)"
    )


@pytest.mark.django_db
def test_skip_invalid_skips_every_oversized_parquet_row(one_row_per_group):
    job, errors = import_errors(one_row_per_group, skip_invalid=True)
    assert job.status == Job.State.SUCCEEDED
    assert job.report["invalid"] == ROWS
    assert [e.split(":")[1] for e in errors[:3]] == ["1", "2", "3"]
    assert all("prompt: record is longer" in e for e in errors), errors[:3]
    assert not Item.objects.exists()


@pytest.mark.django_db
def test_a_parquet_dictionary_bomb_is_refused_before_it_is_decoded(tmp_path):
    path = dictionary_bomb(tmp_path / "bomb.parquet")
    job, errors = import_errors(path, dry_run=True, skip_invalid=True)
    assert job.status == Job.State.FAILED
    # Refused at the row where the rows read so far pass 256 MiB (VAD_IMPORT_MAX_ROW_GROUP_BYTES).
    assert errors[-1].startswith(f"{path}:269: : the rows up to here decode to more than ")
    assert "refused as a decompression bomb" in errors[-1]


def test_dictionary_encoded_parquet_text_is_read_as_plain_values(tmp_path):
    path = tmp_path / "dict.parquet"
    table = pa.table({"a": pa.array(["x", "y", "x", None]).dictionary_encode(), "n": [1, 2, 3, 4]})
    pq.write_table(table, path)
    records = list(RecordStream(path, max_record_bytes=1000))
    assert [r for _, r in records] == [
        {"a": "x", "n": 1},
        {"a": "y", "n": 2},
        {"a": "x", "n": 3},
        {"a": None, "n": 4},
    ]


def test_a_parquet_row_under_the_limit_beside_a_big_one_is_still_read(tmp_path):
    path = tmp_path / "mixed.parquet"
    rows = [{"a": "x" * 5000}, {"a": "small"}, {"a": "y" * 5000}, {"a": None}]
    pq.write_table(pa.Table.from_pylist(rows), path)
    records = list(RecordStream(path, max_record_bytes=1000))
    assert [line for line, _ in records] == [1, 2, 3, 4]
    assert records[1][1] == {"a": "small"} and records[3][1] == {"a": None}
    assert records[0][1].field == "a" and records[2][1].line == 3


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


# Runs manage.py, then prints the process's peak resident memory. VmHWM belongs to the memory
# of the program exec'd, whereas getrusage's ru_maxrss would start at the peak of the test
# process that forked it.
_MEASURED_MANAGE = """
import atexit, re, runpy, sys
def report():
    status = open("/proc/self/status").read()
    print("VmHWM", re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1), file=sys.stderr)
atexit.register(report)
sys.argv = ["manage.py", *sys.argv[1:]]
runpy.run_path("manage.py", run_name="__main__")
"""


def peak_rss_of_import(path: Path, *extra: str) -> tuple[int, str]:
    """Run `manage.py import_items` in a child process; its peak resident memory in bytes."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
    }
    command = ["import_items", "--format", "saferlhf", *extra, str(path)]
    child = subprocess.run(
        [sys.executable, "-c", _MEASURED_MANAGE, *command],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    output = child.stdout + child.stderr
    assert child.returncode == 1, output  # refused, not crashed
    peak = re.search(r"^VmHWM (\d+)$", child.stderr, re.MULTILINE)
    assert peak, output
    return int(peak.group(1)) * 1024, output


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("extra", [("--dry-run",), ()], ids=["dry-run", "import"])
def test_importing_the_hostile_parquet_file_stays_under_one_gib(
    one_big_row_group, one_row_per_group, tmp_path, extra
):
    bomb = dictionary_bomb(tmp_path / "bomb.parquet")
    for path in (one_big_row_group, one_row_per_group, bomb):
        peak, output = peak_rss_of_import(path, *extra)
        print(f"peak RSS of import_items {' '.join(extra)} {path.name}: {peak / 2**20:.0f} MiB")
        assert peak < GIB, output
        assert f"{path}:1: prompt: " in output or "decompression bomb" in output
        assert "Traceback" not in output


# JSON.


def deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (b'{"instruction": ' + deep_array(100_000) + b"}", "nested"),
        (b'{"instruction": ' + b"9" * 5000 + b"}", "number"),
        (b'{"instruction": 1.' + b"9" * 5000 + b"}", "number"),
    ],
    ids=["deep", "long-int", "long-float"],
)
@pytest.mark.parametrize("layout", ["array", "lines"])
@pytest.mark.django_db
def test_deep_or_huge_json_values_are_refused_with_file_and_line(tmp_path, record, message, layout):
    good = b'{"instruction": "q", "input": "", "output": "a", "source": "manual", '
    good += b'"categorization": ""}'
    if layout == "array":
        data, line = b"[\n" + good + b",\n" + record + b"\n]\n", 3
    else:
        data, line = good + b"\n" + record + b"\n", 2
    path = tmp_path / "hostile.json"
    path.write_bytes(data)
    job, errors = import_errors(path, fmt="vad")
    assert job.status == Job.State.FAILED
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}:{line}: "), errors
    assert message in errors[0], errors
    assert not Item.objects.exists()


def test_a_file_that_is_only_nested_arrays_is_refused_as_too_deep(tmp_path):
    path = tmp_path / "deep.json"
    path.write_bytes(deep_array(100_000))
    with pytest.raises(UnreadableFile) as caught:
        list(RecordStream(path, max_record_bytes=1 << 24))
    assert str(caught.value) == (
        f"{path}:1: malformed JSON array (values nested too deep (about a thousand levels at most))"
    )
