"""Errors a person can act on; the CLI, the API and the pages all render these."""

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext


class StaleEdit(Exception):
    """The item changed since the editor loaded it."""

    def __init__(self, *, item_id: int, expected_version: int, current_version: int) -> None:
        self.item_id = item_id
        self.expected_version = expected_version
        self.current_version = current_version
        super().__init__(
            gettext(
                "item %(item)s was changed by someone else (version %(current)s, you edited "
                "version %(expected)s); reload it and apply your edit again"
            )
            % {"item": item_id, "current": current_version, "expected": expected_version}
        )


class DuplicateContent(Exception):
    def __init__(self, *, item_id: int | None, other_id: int) -> None:
        self.item_id = item_id
        self.other_id = other_id
        super().__init__(
            gettext("this edit would make the item identical to item %(other)s")
            % {"other": other_id}
        )


class ClaimedByOther(Exception):
    """Another reviewer holds the item: they may read it, only the holder may change it."""

    def __init__(self, *, item_id: int, holder: str, expires_at: datetime | None = None) -> None:
        self.item_id = item_id
        self.holder = holder
        self.expires_at = expires_at
        super().__init__(
            gettext(
                "Item %(item)s is being reviewed by %(holder)s; you can read it, "
                "but only they can change it until their claim ends."
            )
            % {"item": item_id, "holder": holder}
        )


class NothingToUndo(Exception):
    """No decision of this reviewer can be undone (none, or the item changed since)."""

    def __init__(self, *, item_id: int | None = None, changed_by: str | None = None) -> None:
        self.item_id = item_id
        self.changed_by = changed_by
        if item_id is None:
            message = gettext("You have no decision to undo.")
        elif changed_by is None:
            message = gettext("You have no decision on item %(item)s to undo.") % {"item": item_id}
        else:
            message = gettext(
                "Item %(item)s was changed by %(user)s after your decision, so it cannot be "
                "undone; open the item to see what changed."
            ) % {"item": item_id, "user": changed_by}
        super().__init__(message)


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
