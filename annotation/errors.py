"""Errors a person can act on; the CLI, the API and the pages all render these."""

from dataclasses import dataclass


class StaleEdit(Exception):
    """The item changed since the editor loaded it."""

    def __init__(self, *, item_id: int, expected_version: int, current_version: int) -> None:
        self.item_id = item_id
        self.expected_version = expected_version
        self.current_version = current_version
        super().__init__(
            f"item {item_id} was changed by someone else (version {current_version}, "
            f"you edited version {expected_version}); reload it and apply your edit again"
        )


class DuplicateContent(Exception):
    def __init__(self, *, item_id: int | None, other_id: int) -> None:
        self.item_id = item_id
        self.other_id = other_id
        super().__init__(f"this edit would make the item identical to item {other_id}")


class RollbackRefused(Exception):
    pass


class JobNotCancellable(Exception):
    pass


class JobNotResumable(Exception):
    pass


class QueueUnavailable(Exception):
    """The task queue (the Celery broker) could not be reached: the job was not started, and
    it was marked failed so that nothing waits for a message that was never sent."""


@dataclass(frozen=True)
class RowError:
    """One bad input row: 'data.jsonl:3: categorization: 'family' is not one of ...'."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def as_dict(self) -> dict:
        return {"file": self.path, "line": self.line, "field": self.field, "message": self.message}


class ImportRejected(Exception):
    """The whole file is refused; nothing was written."""

    def __init__(self, errors: list[RowError], *, more: int = 0) -> None:
        self.errors = errors
        self.more = more
        lines = [str(e) for e in errors]
        if more:
            lines.append(f"... and {more} more bad rows")
        super().__init__("\n".join(lines))
