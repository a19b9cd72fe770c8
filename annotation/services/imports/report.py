"""What an import tells people: its counts and listed errors, and its progress while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...errors import ImportRejected, RowError

# A rejected file lists this many bad rows, then reading stops: enough to see the pattern.
REJECT_AFTER_ERRORS = 20
# A report of an import run with --skip-invalid lists this many skipped rows, then counts.
REPORT_MAX_ERRORS = 1000


class ImportCancelled(Exception):
    """The job was cancelled while running; the transaction is rolled back."""


@dataclass
class ImportReport:
    format: str
    rule: str
    file: str
    file_kind: str = ""
    dry_run: bool = False
    skip_invalid: bool = False
    job_id: int | None = None
    user: str | None = None
    read: int = 0
    created: int = 0
    duplicates_source_key: int = 0
    duplicates_content_hash: int = 0
    not_selected: int = 0
    invalid: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_not_listed: int = 0
    seconds: float = 0.0

    @property
    def duplicates(self) -> int:
        return self.duplicates_source_key + self.duplicates_content_hash

    def add_error(self, error: RowError) -> None:
        self.invalid += 1
        if len(self.errors) < REPORT_MAX_ERRORS:
            self.errors.append(error)
        else:
            self.errors_not_listed += 1

    def as_dict(self) -> dict:
        return {
            "format": self.format,
            "rule": self.rule,
            "file": self.file,
            "file_kind": self.file_kind,
            "dry_run": self.dry_run,
            "skip_invalid": self.skip_invalid,
            "job_id": self.job_id,
            "user": self.user,
            "read": self.read,
            "created": self.created,
            "duplicates": self.duplicates,
            "duplicates_source_key": self.duplicates_source_key,
            "duplicates_content_hash": self.duplicates_content_hash,
            "not_selected": self.not_selected,
            "invalid": self.invalid,
            "errors": [e.as_dict() for e in self.errors],
            "errors_not_listed": self.errors_not_listed,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        return import_report_summary(self.as_dict())


def import_report_summary(report: dict) -> str:
    """One line for people: what an import (or a dry run) did, from its report."""
    created = "would create" if report.get("dry_run") else "created"
    return (
        f"{report.get('file')}: {report.get('read', 0)} read, {report.get('created', 0)} "
        f"{created}, {report.get('duplicates', 0)} duplicates "
        f"({report.get('duplicates_source_key', 0)} by source key, "
        f"{report.get('duplicates_content_hash', 0)} by content), "
        f"{report.get('not_selected', 0)} not selected, {report.get('invalid', 0)} invalid, "
        f"in {report.get('seconds', 0):.1f} s"
    )


class ImportFileRejected(ImportRejected):
    """ImportRejected with the counts reached before reading stopped."""

    def __init__(self, errors: list[RowError], *, report: ImportReport) -> None:
        super().__init__(errors)
        self.report = report

    def report_dict(self) -> dict:
        return {
            **self.report.as_dict(),
            "created": 0,
            "rejected": True,
            "errors": [e.as_dict() for e in self.errors],
        }


@dataclass(frozen=True)
class ImportProgress:
    read: int
    estimated_total: int
    position: int  # bytes of the file consumed
    size: int


ProgressCallback = Callable[[ImportProgress], None]
