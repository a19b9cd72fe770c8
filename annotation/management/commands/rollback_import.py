"""manage.py rollback_import JOB_ID: delete every item of an import, while none is reviewed."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import RollbackRefused
from annotation.models import Job
from annotation.services import import_rollback


class Command(BaseCommand):
    help = "Roll back an import (its job id is printed by import_items and shown on /jobs/)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_id", type=int)

    def handle(self, *args, **options) -> None:
        job_id = options["job_id"]
        try:
            deleted = import_rollback(job_id=job_id, user=None)
        except Job.DoesNotExist as exc:
            raise CommandError(f"there is no job #{job_id}") from exc
        except RollbackRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"import job #{job_id} rolled back: {deleted} items deleted")
