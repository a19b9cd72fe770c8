"""manage.py rollback_import JOB_ID: delete every item of an import, while none is reviewed.

Runs the rollback job here (as a worker would) and prints its outcome.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import RollbackRefused
from annotation.models import Job
from annotation.services import import_rollback_run, import_rollback_start


class Command(BaseCommand):
    help = "Roll back an import (its job id is printed by import_items and shown on /jobs/)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_id", type=int)

    def handle(self, *args, **options) -> None:
        job_id = options["job_id"]
        try:
            job = import_rollback_start(job_id=job_id, user=None, enqueue=False)
        except Job.DoesNotExist as exc:
            raise CommandError(f"there is no job #{job_id}, or it is not an import") from exc
        except RollbackRefused as exc:
            raise CommandError(str(exc)) from exc
        job = import_rollback_run(job_id=job.pk)
        if job.status != Job.State.SUCCEEDED:
            raise CommandError(f"rollback job #{job.pk}: {job.error}")
        deleted = job.report.get("deleted", 0)
        self.stdout.write(
            f"import job #{job_id} rolled back by job #{job.pk}: {deleted} items deleted"
        )
