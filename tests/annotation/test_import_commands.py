"""manage.py import_items, rollback_import and create_user, as an admin runs them."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import translation

from annotation.models import Item, Job
from annotation.permissions import is_admin, is_reviewer
from annotation.services import item_change_status, item_edit
from tests.factories import vad_record

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SAFERLHF_SAMPLE = FIXTURES / "pku_saferlhf_alpaca7b_test_sample.jsonl"
CVALUES = FIXTURES / "cvalues_responsibility_prompts.jsonl"
REPO_ROOT = Path(settings.BASE_DIR)


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def vad_lines(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


@pytest.mark.django_db
def test_import_items_creates_the_items_under_a_job_and_prints_a_summary():
    out, _ = run("import_items", "--format", "cvalues", str(CVALUES))
    job = Job.objects.get(kind=Job.Kind.IMPORT)
    assert job.status == Job.State.SUCCEEDED
    assert Item.objects.filter(import_job=job).count() == 664
    assert f"import job #{job.pk}:" in out
    assert "664 read, 664 created, 0 duplicates" in out


@pytest.mark.django_db
def test_a_rejected_file_prints_every_error_and_fails_with_nothing_written(tmp_path):
    path = vad_lines(
        tmp_path / "bad.jsonl",
        [vad_record(1), vad_record(2, categorization="family"), vad_record(3, output="")],
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_items", "--format", "vad", str(path), stderr=err)
    assert err.getvalue().splitlines() == [
        f"{path}:2: categorization: 'family' is not one of person, social, nation",
        f"{path}:3: output: must not be empty",
    ]
    assert not Item.objects.exists()
    assert Job.objects.get().status == Job.State.FAILED


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_on_a_rejected_file(tmp_path):
    path = tmp_path / "gbk.jsonl"
    path.write_bytes(json.dumps(vad_record(1), ensure_ascii=False).encode("gbk") + b"\n")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "import_items", "--format", "vad", str(path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert f"{path}:1: not valid UTF-8" in done.stderr
    assert not Item.objects.exists()


@pytest.mark.django_db
def test_dry_run_reports_what_it_would_create_and_writes_nothing():
    out, _ = run(
        "import_items", "--format", "saferlhf", "--rule", "safe", "--dry-run", str(SAFERLHF_SAMPLE)
    )
    assert "16 read, 11 would create" in out
    assert not Item.objects.exists()


@pytest.mark.django_db
def test_skip_invalid_imports_the_good_rows_and_shows_the_skipped_ones(tmp_path):
    path = vad_lines(tmp_path / "mixed.jsonl", [vad_record(1), vad_record(2, source="web")])
    out, err = run("import_items", "--format", "vad", "--skip-invalid", str(path))
    assert "2 read, 1 created" in out and "1 invalid" in out
    assert f"{path}:2: source: 'web' is not one of manual, synthetic, translated" in err
    assert Item.objects.count() == 1


@pytest.mark.django_db
def test_unknown_rule_or_missing_file_is_an_error_before_anything_runs(tmp_path):
    with pytest.raises(CommandError, match="unknown rule 'kind'"):
        run("import_items", "--format", "saferlhf", "--rule", "kind", str(SAFERLHF_SAMPLE))
    with pytest.raises(CommandError, match="no such file"):
        run("import_items", "--format", "vad", str(tmp_path / "absent.jsonl"))
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_rollback_import_deletes_an_unreviewed_import_and_refuses_a_reviewed_one(
    tmp_path, reviewer_user
):
    first = vad_lines(tmp_path / "a.jsonl", [vad_record(1), vad_record(2)])
    second = vad_lines(tmp_path / "b.jsonl", [vad_record(3)])
    run("import_items", "--format", "vad", str(first))
    run("import_items", "--format", "vad", str(second))
    job_a, job_b = Job.objects.order_by("pk")
    out, _ = run("rollback_import", str(job_a.pk))
    rollback = Job.objects.get(kind=Job.Kind.ROLLBACK)
    assert out.strip() == (
        f"import job #{job_a.pk} rolled back by job #{rollback.pk}: 2 items deleted"
    )

    item = Item.objects.get(import_job=job_b)
    item_change_status(item_id=item.pk, status="in_review", user=None)
    item_edit(item_id=item.pk, user=reviewer_user, version=2, changes={"output": "改"})
    with pytest.raises(CommandError, match="cannot be rolled back"):
        run("rollback_import", str(job_b.pk))
    assert Item.objects.filter(import_job=job_b).exists()
    with pytest.raises(CommandError, match="no job #999999"):
        run("rollback_import", "999999")


@pytest.mark.django_db
def test_create_user_makes_a_staff_admin_with_the_given_password():
    out, _ = run(
        "create_user", "ada", "--role", "admin", "--password", "s3cret-pass", "--email", "a@x.org"
    )
    user = get_user_model().objects.get(username="ada")
    assert is_admin(user) and user.is_staff and user.email == "a@x.org"
    assert user.check_password("s3cret-pass")
    assert "password" not in out


@pytest.mark.django_db
def test_create_user_makes_a_reviewer_and_prints_the_generated_password():
    out, _ = run("create_user", "rita", "--role", "reviewer")
    user = get_user_model().objects.get(username="rita")
    assert is_reviewer(user) and not user.is_staff
    password = out.split("password: ", 1)[1].strip()
    assert len(password) >= 12 and user.check_password(password)


@pytest.mark.django_db
def test_create_user_refuses_a_taken_username():
    run("create_user", "bob", "--role", "reviewer", "--password", "a-long-pass-phrase-9")
    # Messages follow the active language (Chinese by default); this test reads the English.
    with translation.override("en"), pytest.raises(CommandError, match="already exists"):
        run("create_user", "bob", "--role", "admin")
