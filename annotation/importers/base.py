"""What every import format shares: the item draft, the row error, and field checks.

A format turns one raw record (a dict) into an ItemDraft, returns None when its selection
rule does not keep the row, or raises BadRow naming the field. The checks below are called
for every row of files with ~10^5 rows, so they stay plain and cheap (no ORM validation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from ..hashing import content_hash


class BadRow(Exception):
    """A record the format cannot use; the importer adds the file and line."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


@dataclass(slots=True)
class ItemDraft:
    """An item as it will be written: the Item fields an import sets, nothing more."""

    instruction: str
    input: str
    output: str
    source: str
    categorization: str
    status: str
    source_key: str | None
    origin: dict[str, Any]
    flags: list[str] = field(default_factory=list)
    content_hash: str = ""

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(
                instruction=self.instruction,
                input=self.input,
                output=self.output,
                source=self.source,
                categorization=self.categorization,
            )


# convert(record, row) -> a draft, or None when the selection rule does not keep the row.
# `row` is the 0-based index of the record in the file (its identity in origin.row).
Converter = Callable[[Mapping[str, Any], int], ItemDraft | None]


@dataclass(frozen=True)
class ImportOptions:
    """Everything a format may need besides the record itself."""

    rule: str
    file_name: str = ""
    config: str | None = None
    split: str | None = None


@dataclass(frozen=True)
class ImportFormat:
    name: str
    description: str
    rules: tuple[str, ...]
    make_converter: Callable[[ImportOptions], Converter]
    # Optional: decodes a JSON line straight into the record type the converter takes, or
    # returns None to leave that line to the general path (a dict, checked by the converter).
    line_decoder: Callable[[bytes], Any] | None = None

    @property
    def default_rule(self) -> str:
        return self.rules[0]


_MISSING = object()


def require(record: Mapping[str, Any], name: str) -> Any:
    value = record.get(name, _MISSING)
    if value is _MISSING:
        raise BadRow(name, "missing")
    return value


def _wrong_type(record: Mapping[str, Any], name: str, expected: str) -> BadRow:
    value = require(record, name)  # raises "missing" when the key is absent
    return BadRow(name, f"must be {expected}, not {json_type(value)}")


# The checks below take the common case (right type) first and look closer only on failure.


def is_usable_text(value: str) -> bool:
    """Whether ``text`` takes a string as it is: not empty or all whitespace, no NUL."""
    return bool(value) and not value.isspace() and "\x00" not in value


def text(record: Mapping[str, Any], name: str, *, allow_empty: bool = False) -> str:
    """A string field, stored exactly as given (never trimmed)."""
    value = record.get(name)
    if not isinstance(value, str):
        raise _wrong_type(record, name, "a string")
    if is_usable_text(value):
        return value
    if "\x00" in value:
        # PostgreSQL text and jsonb cannot hold NUL; refuse it here with a readable message.
        raise BadRow(name, "contains a NUL character (\\u0000)")
    # What is left is empty or all whitespace.
    if allow_empty:
        return value
    raise BadRow(name, "must not be empty")


def boolean(record: Mapping[str, Any], name: str) -> bool:
    value = record.get(name)
    if not isinstance(value, bool):
        raise _wrong_type(record, name, "true or false")
    return value


def integer(record: Mapping[str, Any], name: str, *, low: int, high: int) -> int:
    value = record.get(name)
    if not isinstance(value, int) or isinstance(value, bool):  # JSON true is no integer
        raise _wrong_type(record, name, f"an integer from {low} to {high}")
    if not low <= value <= high:
        raise BadRow(name, f"must be from {low} to {high}, not {value}")
    return value


def one_of(record: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = require(record, name)
    if not isinstance(value, str) or value not in allowed:
        shown = repr(value) if isinstance(value, str) else json_type(value)
        raise BadRow(name, f"{shown} is not one of {', '.join(a for a in allowed if a)}")
    return value


def json_type(value: Any) -> str:
    """The JSON name of a value's type, as the person who wrote the file sees it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_SPLITS = ("train", "test", "validation")
# Folders that hold a dataset but do not name its configuration.
_NOT_CONFIGS = frozenset({"", ".", "..", "data", "datasets", "imports", "tmp", "downloads"})


def infer_config_split(file_name: str) -> tuple[str | None, str | None]:
    """('Alpaca-7B', 'test') from '.../Alpaca-7B/test.jsonl' (Hugging Face dataset layout).

    Also reads 'train-00000-of-00001.parquet'. Anything else gives (None, None): a guess
    that is wrong would be worse than no provenance.
    """
    path = PurePath(file_name)
    stem = path.name.split(".", 1)[0]
    split = next(
        (s for s in _SPLITS if stem == s or stem.startswith((f"{s}-", f"{s}_"))),
        None,
    )
    if split is None:
        return None, None
    parent = path.parent.name
    config = None if parent in _NOT_CONFIGS or parent.isdigit() else parent
    return config, split
