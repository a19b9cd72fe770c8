"""manage.py import_items --format F [--rule R] [--skip-invalid] [--dry-run] PATH (SPEC §3, §5).

Runs the import here, not on a worker, as a Job row so that rollback_import can undo it.
A rejected file prints every listed error as `file:line: field: message` to stderr and exits
with status 1; nothing is written then.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotation.errors import RowError
from annotation.importers import FORMATS, UnknownFormat
from annotation.importers.parsing import allow_collector_pause
from annotation.models import Job
from annotation.services import import_job_create, import_job_run, import_report_summary
from annotation.services.imports import ImportProgress, ImportRequest, ProgressCallback

# Rows skipped with --skip-invalid shown on the terminal; the job's report lists more.
SHOWN_SKIPPED_ROWS = 20


class Command(BaseCommand):
    help = "Import a dataset file: saferlhf, cvalues, cvalues-comparison or vad records."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, choices=sorted(FORMATS))
        parser.add_argument("--rule", help="selection rule; saferlhf: safe-better (default), safe")
        parser.add_argument(
            "--skip-invalid", action="store_true", help="skip bad rows, list them in the report"
        )
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
        parser.add_argument("--config", help="dataset configuration for origin, e.g. Alpaca-7B")
        parser.add_argument("--split", help="dataset split for origin, e.g. train")
        parser.add_argument("path", help="JSON lines, a JSON array, or Parquet")

    def handle(self, *args, **options) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            request = ImportRequest(
                path=str(path),
                format=options["format"],
                rule=options["rule"],
                skip_invalid=options["skip_invalid"],
                dry_run=options["dry_run"],
                config=options["config"],
                split=options["split"],
            )
        except UnknownFormat as exc:
            raise CommandError(str(exc)) from exc
        job = import_job_create(request=request, enqueue=False)
        allow_collector_pause()  # this process does nothing else meanwhile
        with self._progress_bar() as on_progress:
            job = import_job_run(job_id=job.pk, on_progress=on_progress)
        if job.status != Job.State.SUCCEEDED:
            self._print_errors(job.report.get("errors", []))
            raise CommandError(f"import job #{job.pk} rejected {path}: nothing was written")
        skipped = job.report.get("errors", [])
        self._print_errors(skipped[:SHOWN_SKIPPED_ROWS])
        if job.report.get("invalid", 0) > SHOWN_SKIPPED_ROWS:
            self.stderr.write(f"... all skipped rows are listed in job #{job.pk}'s report")
        self.stdout.write(f"import job #{job.pk}: {import_report_summary(job.report)}")

    def _print_errors(self, errors: list[dict]) -> None:
        for error in errors:
            row_error = RowError(
                path=error["file"],
                line=error["line"],
                field=error["field"],
                message=error["message"],
            )
            self.stderr.write(str(row_error))

    @contextmanager
    def _progress_bar(self) -> Iterator[ProgressCallback | None]:
        """A bar over the bytes of the file, on a terminal only (logs stay clean)."""
        if not self.stdout.isatty():
            yield None
            return
        bar = tqdm(unit="B", unit_scale=True, file=self.stderr._out, leave=False)

        def show(progress: ImportProgress) -> None:
            bar.total = progress.size
            bar.n = progress.position
            bar.set_postfix(rows=f"{progress.read:,}", refresh=False)
            bar.refresh()

        try:
            yield show
        finally:
            bar.close()
