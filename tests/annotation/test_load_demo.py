import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from annotation.models import Item, Source, Status

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
