import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from annotation.models import Item, Job, Source, Status
from tests.factories import vad_record

pytestmark = pytest.mark.django_db


def _passwords(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        if " / " in line and ":" in line:
            name, password = line.split(":", 1)[1].strip().split(" / ")
            found[name] = password
    return found


def test_demo_has_reviewable_items_of_every_source_and_working_accounts(capsys):
    call_command("load_demo")
    passwords = _passwords(capsys.readouterr().out)
    admin = authenticate(username="admin", password=passwords["admin"])
    reviewer = authenticate(username="reviewer", password=passwords["reviewer"])
    assert admin.is_staff and not reviewer.is_staff
    assert reviewer.groups.filter(name="reviewers").exists()

    assert Item.objects.filter(source=Source.SYNTHETIC, status=Status.SEED).count() == 664
    for source in Source.values:
        assert Item.objects.filter(source=source, status=Status.IN_REVIEW).exists(), source
    translated = Item.objects.filter(source=Source.TRANSLATED, status=Status.IN_REVIEW)
    assert all(i.origin["en_instruction"] and i.origin["en_output"] for i in translated)
    assert all("\u4e00" <= i.instruction[0] <= "\u9fff" for i in translated)
    children = Item.objects.filter(source=Source.SYNTHETIC, parent__isnull=False)
    assert children.count() == 4
    assert all(c.parent.status == Status.SEED for c in children)
    accepted = Item.objects.filter(status=Status.ACCEPTED)
    assert accepted.count() == 3 and all(i.reviewer_id and i.categorization for i in accepted)


def test_loading_the_demo_twice_adds_nothing(capsys):
    call_command("load_demo")
    counts = list(Item.objects.order_by("pk").values_list("pk", "status", "version"))
    call_command("load_demo")
    assert list(Item.objects.order_by("pk").values_list("pk", "status", "version")) == counts


def test_the_demo_leaves_hand_written_candidates_for_a_first_score(capsys):
    call_command("load_demo")
    candidates = Item.objects.filter(status=Status.CANDIDATE)
    assert candidates.count() == 24
    assert all(i.source == Source.MANUAL and i.ifd is None for i in candidates)
    queue = Item.objects.filter(status=Status.IN_REVIEW)
    assert queue.filter(source=Source.TRANSLATED).count() == 4
    assert queue.filter(source=Source.MANUAL).count() == 4
    children = queue.filter(source=Source.SYNTHETIC)
    assert children.count() == 4
    assert all(c.parent_id and c.origin.get("operation") for c in children)


def test_configured_passwords_are_given_and_stay_the_same_on_every_run(settings, capsys):
    settings.VAD_DEMO_ADMIN_PASSWORD = "admin-pw-Quick-1"
    settings.VAD_DEMO_REVIEWER_PASSWORD = "reviewer-pw-Quick-2"
    call_command("load_demo")
    call_command("load_demo")
    printed = _passwords(capsys.readouterr().out)
    assert printed == {"admin": "admin-pw-Quick-1", "reviewer": "reviewer-pw-Quick-2"}
    assert authenticate(username="admin", password="admin-pw-Quick-1")
    assert authenticate(username="reviewer", password="reviewer-pw-Quick-2")


def test_without_configured_passwords_a_second_run_keeps_them_unless_asked(capsys):
    call_command("load_demo")
    first = _passwords(capsys.readouterr().out)
    call_command("load_demo")
    assert "(password unchanged)" in capsys.readouterr().out
    assert authenticate(username="admin", password=first["admin"])
    call_command("load_demo", "--new-passwords")
    renewed = _passwords(capsys.readouterr().out)
    assert renewed["admin"] != first["admin"]
    assert authenticate(username="admin", password=renewed["admin"])
    assert not authenticate(username="admin", password=first["admin"])


def test_a_second_run_adds_no_import_jobs(capsys):
    call_command("load_demo")
    jobs = Job.objects.count()
    call_command("load_demo")
    assert Job.objects.count() == jobs
    assert "loaded before" in capsys.readouterr().out


def test_the_demo_finds_its_own_items_among_hand_written_items_imported_before(tmp_path, capsys):
    other = tmp_path / "mine.jsonl"
    other.write_text(
        "\n".join(
            json.dumps(vad_record(n, categorization=""), ensure_ascii=False) for n in range(5)
        ),
        "utf-8",
    )
    call_command("import_items", "--format", "vad", str(other))
    call_command("load_demo")
    mine = Item.objects.filter(origin__file="mine.jsonl")
    assert set(mine.values_list("status", flat=True)) == {Status.CANDIDATE}
    demo = Item.objects.filter(origin__file="manual_items.jsonl").order_by("pk")
    assert [i.status for i in demo[:3]] == [Status.ACCEPTED] * 3
