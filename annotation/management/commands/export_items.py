"""manage.py export_items --format json|jsonl [filters] OUT: the API's export, to a file.

The bytes are those of GET /api/v1/export/ with the same parameters: both iterate the same
ExportStream. OUT `-` writes to stdout; the summary line goes to stderr either way.
"""

import os
import sys
import time
from contextlib import closing, contextmanager
from pathlib import Path
from typing import BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.exporters import FORMATS, ExportStream, export_open
from annotation.filters import InvalidFilters

# Filter parameters of the API, as options: --min-ifd here is min_ifd there.
FILTER_OPTIONS = ("status", "source", "categorization", "min_ifd", "max_ifd", "updated_after")


class Command(BaseCommand):
    help = "Export items as VAD records (only accepted ones unless --status says otherwise)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, choices=sorted(FORMATS))
        parser.add_argument("--status", help="comma separated; default accepted")
        parser.add_argument("--source", help="comma separated: manual, synthetic, translated")
        parser.add_argument("--categorization", help="comma separated: person, social, nation")
        parser.add_argument("--min-ifd", help="items without a score never pass an IFD bound")
        parser.add_argument("--max-ifd", help="items without a score never pass an IFD bound")
        parser.add_argument("--updated-after", help="ISO 8601, e.g. 2025-01-31T12:00:00+08:00")
        parser.add_argument("--include-meta", action="store_true", help="add the meta key")
        parser.add_argument("out", help="output file, or - for stdout")

    def handle(self, *args, **options) -> None:
        filters = {name: options[name] for name in FILTER_OPTIONS if options[name] is not None}
        try:
            export = export_open(
                fmt=options["format"], filters=filters, include_meta=options["include_meta"]
            )
        except InvalidFilters as invalid:
            raise CommandError(_as_options(invalid)) from invalid
        started = time.perf_counter()
        try:
            with _output(options["out"]) as out:
                written = _write(export, out)
        except BrokenPipeError as closed:  # e.g. `export_items ... - | head`
            _silence_stdout()
            raise CommandError(f"output closed after {export.count} items") from closed
        seconds = time.perf_counter() - started
        rate = export.count / seconds if seconds else 0.0
        self.stderr.write(
            f"exported {export.count} items, {written / 1e6:.1f} MB in {seconds:.2f} s "
            f"({rate:,.0f} items/s) to {options['out']}"
        )


def _write(export: ExportStream, out: BinaryIO) -> int:
    written = 0
    # Closed explicitly when writing fails, so the export's log and cursor are settled now.
    with closing(export.chunks()) as chunks:
        for chunk in chunks:
            out.write(chunk)
            written += len(chunk)
    return written


def _silence_stdout() -> None:
    # Python would report the broken pipe again when it flushes stdout at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


@contextmanager
def _output(out: str):
    if out == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(out)
    # Written beside the target and renamed at the end: a failed export leaves no half file.
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as handle:
            yield handle
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _as_options(invalid: InvalidFilters) -> str:
    return "; ".join(
        f"--{name.replace('_', '-')}: {' '.join(messages)}"
        for name, messages in invalid.errors.items()
    )
