"""manage.py load_demo — real samples, reviewable items of all three sources, and two users.

The reviewer's queue gets translated items (the English original beside), evolved children of
CValues prompts (parent and operation) and hand-written items, all in review; a few more
hand-written items stay candidates, for a first IFD score. Everything goes through services.

Safe to run again: imports skip what is there and nothing is duplicated. The demo users get
the passwords VAD_DEMO_ADMIN_PASSWORD / VAD_DEMO_REVIEWER_PASSWORD when those are set (make
run generates them once into var/local.env); otherwise a new user gets a generated password
and an existing one keeps its own, unless --new-passwords.
"""

import hashlib
import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from annotation.models import Item, Job, Source, Status
from annotation.services import (
    ImportRequest,
    import_job_create,
    import_job_run,
    item_accept,
    item_apply_answer,
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
    # Hand-written candidates, left unscored: the quick start's first score job works on these.
    ("vad", DEMO_DIR / "candidates.jsonl"),
]
MANUAL_ITEMS_FILE = "manual_items.jsonl"


class Command(BaseCommand):
    help = "Load demo data (real samples and hand-made reviewable items) and demo users."

    def add_arguments(self, parser):
        parser.add_argument("--admin", default="admin", help="admin user name")
        parser.add_argument("--reviewer", default="reviewer", help="reviewer user name")
        parser.add_argument(
            "--new-passwords",
            action="store_true",
            help="give existing demo users new generated passwords (unless set in settings)",
        )

    def handle(self, *args, admin: str, reviewer: str, new_passwords: bool, **options):
        admin_user, admin_password = self._user(
            admin, "admin", settings.VAD_DEMO_ADMIN_PASSWORD, renew=new_passwords
        )
        reviewer_user, reviewer_password = self._user(
            reviewer, "reviewer", settings.VAD_DEMO_REVIEWER_PASSWORD, renew=new_passwords
        )
        for fmt, path in IMPORTS:
            if self._imported_before(path):
                self.stdout.write(f"import {path.name}: loaded before")
                continue
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
        unchanged = "(password unchanged)"
        self.stdout.write(f"  admin:    {admin} / {admin_password or unchanged}")
        self.stdout.write(f"  reviewer: {reviewer} / {reviewer_password or unchanged}")

    def _imported_before(self, path: Path) -> bool:
        """Whether an earlier import of this file still holds items: then importing it again
        would only add a job with nothing new to the dashboard's table on every `make run`."""
        return Item.objects.filter(
            import_job__kind=Job.Kind.IMPORT, import_job__params__path=str(path)
        ).exists()

    def _user(self, username: str, role: str, configured: str, *, renew: bool):
        """The demo user and the password to print (None: an existing one, left alone)."""
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            return user_create(username=username, role=role, password=configured or None)
        password = configured or (secrets.token_urlsafe(12) if renew else None)
        if password and not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        return user, password

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
        items = []
        for entry in evolutions:
            item, _ = item_create_evolved(
                parent_id=Item.objects.get(source_key=f"cvalues:{entry['parent']}").pk,
                operation=entry["operation"],
                round=entry["round"],
                instruction=entry["instruction"],
            )
            if item.status == Status.PENDING_EVOLUTION:
                item = item_apply_answer(item_id=item.pk, output=entry["output"])
            items.append(item)
        return items

    def _review(self, review: dict, admin_user, reviewer_user, derived: list[Item]) -> None:
        # The demo's hand-written items, in file order, whatever else has been imported.
        manual = list(
            Item.objects.filter(source=Source.MANUAL, origin__file=MANUAL_ITEMS_FILE).order_by("pk")
        )

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
