import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotation.models import ExportLog, Status
from tests.factories import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def items() -> list:
    return [
        make_item(status=Status.ACCEPTED, categorization="person", source="manual", ifd=0.2),
        make_item(status=Status.ACCEPTED, categorization="nation", source="synthetic", ifd=0.8),
        make_item(status=Status.ACCEPTED, categorization="social", input="  背景\n"),
        make_item(status=Status.REJECTED, categorization="social"),
    ]


def run_export(*args: str) -> str:
    stderr = io.StringIO()
    call_command("export_items", *args, stderr=stderr)
    return stderr.getvalue()


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_the_command_writes_the_same_bytes_as_the_api(fmt, items, admin_api, tmp_path: Path):
    out = tmp_path / f"export.{fmt}"
    run_export("--format", fmt, "--include-meta", "--source", "manual,synthetic", str(out))
    response = admin_api.get(
        "/api/v1/export/", {"format": fmt, "include": "meta", "source": "manual,synthetic"}
    )
    assert out.read_bytes() == b"".join(response.streaming_content)


def test_the_command_exports_accepted_items_and_prints_a_summary(items, tmp_path: Path):
    out = tmp_path / "export.jsonl"
    summary = run_export("--format", "jsonl", str(out))
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["instruction"] for r in records] == [item.instruction for item in items[:3]]
    assert records[2]["input"] == "  背景\n"
    assert "exported 3 items" in summary
    assert " MB in " in summary and "items/s" in summary
    log = ExportLog.objects.get()
    assert (log.format, log.count, log.completed, log.user) == ("jsonl", 3, True, None)


def test_the_command_filters_like_the_api(items, tmp_path: Path):
    out = tmp_path / "export.json"
    run_export(
        "--format",
        "json",
        "--status",
        "accepted,rejected",
        "--categorization",
        "nation,social",
        "--min-ifd",
        "0.5",
        "--updated-after",
        "2000-01-01T00:00:00+08:00",
        str(out),
    )
    records = json.loads(out.read_bytes())
    assert [r["instruction"] for r in records] == [items[1].instruction]


def test_the_command_writes_to_stdout_when_out_is_a_dash(items, capsysbinary):
    run_export("--format", "jsonl", "--max-ifd", "0.5", "-")
    lines = capsysbinary.readouterr().out.splitlines()
    assert [json.loads(line)["instruction"] for line in lines] == [items[0].instruction]


def test_bad_options_are_refused_naming_the_option_and_nothing_is_written(tmp_path: Path):
    out = tmp_path / "export.json"
    with pytest.raises(CommandError, match="--min-ifd") as refused:
        run_export("--format", "json", "--min-ifd", "high", "--status", "done", str(out))
    assert "--status" in str(refused.value)
    assert not out.exists()
    assert not ExportLog.objects.exists()


def test_an_unknown_format_is_refused(tmp_path: Path):
    with pytest.raises(CommandError):
        run_export("--format", "csv", str(tmp_path / "x.csv"))
