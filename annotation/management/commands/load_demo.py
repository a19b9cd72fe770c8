"""manage.py load_demo — real samples plus reviewable items of all three sources, and two users.

Safe to run again: imports skip what is there, and users get fresh passwords.
"""

import hashlib
import json
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from annotation.models import Item, Job, Source, Status
from annotation.services import (
    ImportRequest,
    import_job_create,
    import_job_run,
    item_accept,
    item_apply_translation,
    item_change_status,
    item_create_evolved,
    item_reject,
    user_create,
)

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
IMPORTS = [
    ("saferlhf", DEMO_DIR / "data" / "pku_saferlhf_alpaca7b_test_sample.jsonl"),
    ("cvalues", DEMO_DIR / "data" / "cvalues_responsibility_prompts.jsonl"),
    ("vad", DEMO_DIR / "manual_items.jsonl"),
]


class Command(BaseCommand):
    help = "Load demo data (real samples and hand-made reviewable items) and demo users."

    def add_arguments(self, parser):
        parser.add_argument("--admin", default="admin", help="admin user name")
        parser.add_argument("--reviewer", default="reviewer", help="reviewer user name")

    def handle(self, *args, admin: str, reviewer: str, **options):
        passwords = {name: secrets.token_urlsafe(9) for name in (admin, reviewer)}
        admin_user = self._user(admin, "admin", passwords[admin])
        reviewer_user = self._user(reviewer, "reviewer", passwords[reviewer])
        for fmt, path in IMPORTS:
            request = ImportRequest(path=str(path), format=fmt)
            job = import_job_create(request=request, user=admin_user, enqueue=False)
            job = import_job_run(job_id=job.pk)
            report = job.report
            self.stdout.write(
                f"import {path.name}: {report.get('created', 0)} new, "
                f"{report.get('duplicates', 0)} already there ({job.status})"
            )
            if job.status != Job.State.SUCCEEDED:
                self.stderr.write(job.error)
        plan = json.loads((DEMO_DIR / "demo.json").read_text("utf-8"))
        with transaction.atomic():
            translated = self._translations(plan["translations"], admin_user)
            evolved = self._evolutions(plan["evolutions"])
            self._review(plan["review"], admin_user, reviewer_user, translated + evolved)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(f"  admin:    {admin} / {passwords[admin]}")
        self.stdout.write(f"  reviewer: {reviewer} / {passwords[reviewer]}")

    def _user(self, username: str, role: str, password: str):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            user, _ = user_create(username=username, role=role, password=password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        return user

    def _translations(self, translations: list[dict], user) -> list[Item]:
        rows = (DEMO_DIR / "data" / "pku_saferlhf_alpaca7b_test_sample.jsonl").read_text("utf-8")
        rows = [json.loads(line) for line in rows.splitlines() if line.strip()]
        items = []
        for entry in translations:
            row = rows[entry["row"]]
            chosen = row[f"response_{row['better_response_id']}"]
            digest = hashlib.sha256((row["prompt"] + chosen).encode("utf-8")).hexdigest()
            item = Item.objects.get(source_key=f"saferlhf:{digest}")
            if item.status == Status.PENDING_TRANSLATION:
                item = item_apply_translation(
                    item_id=item.pk,
                    instruction=entry["instruction"],
                    output=entry["output"],
                    user=user,
                )
            items.append(item)
        return items

    def _evolutions(self, evolutions: list[dict]) -> list[Item]:
        return [
            item_create_evolved(
                parent_id=Item.objects.get(source_key=f"cvalues:{entry['parent']}").pk,
                operation=entry["operation"],
                round=entry["round"],
                instruction=entry["instruction"],
                output=entry["output"],
            )
            for entry in evolutions
        ]

    def _review(self, review: dict, admin_user, reviewer_user, derived: list[Item]) -> None:
        manual = list(Item.objects.filter(source=Source.MANUAL).order_by("pk"))

        def to_review(item: Item) -> Item:
            item.refresh_from_db()
            if item.status == Status.CANDIDATE:
                return item_change_status(item_id=item.pk, status=Status.IN_REVIEW, user=admin_user)
            return item

        for index in review["accepted"]:
            item = to_review(manual[index])
            if item.status == Status.IN_REVIEW:
                item_accept(item_id=item.pk, reviewer=reviewer_user, version=item.version)
        for index, reason in review["rejected"].items():
            item = to_review(manual[int(index)])
            if item.status == Status.IN_REVIEW:
                item_reject(
                    item_id=item.pk, reviewer=reviewer_user, version=item.version, reason=reason
                )
        for item in [manual[i] for i in review["in_review"]] + derived:
            to_review(item)
