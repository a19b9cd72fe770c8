"""VAD records (SPEC §1): hand-written items or an earlier export, landing as candidates.

The format is strict because people write these files by hand: an unknown key is most
likely a typo ('categorisation'), so it is an error rather than silently dropped. The text
is stored exactly as written; only the content hash normalises it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from ..models import Categorization, Source, Status
from .base import BadRow, Converter, ImportFormat, ImportOptions, ItemDraft, one_of, text

RULE_ALL = "all"
VAD_KEYS = frozenset({"instruction", "input", "output", "source", "categorization"})
# An export with include=meta adds this key; the importer accepts and ignores it.
IGNORED_KEYS = frozenset({"meta"})
_SOURCES = tuple(Source.values)
_CATEGORIZATIONS = tuple(Categorization.values)
_CANDIDATE = Status.CANDIDATE.value


def _check_keys(record: Mapping[str, Any]) -> None:
    unknown = record.keys() - VAD_KEYS - IGNORED_KEYS
    if unknown:
        first = sorted(unknown)[0]
        allowed = ", ".join(sorted(VAD_KEYS | IGNORED_KEYS))
        raise BadRow(first, f"unknown key (a VAD record has only {allowed})")


def make_converter(options: ImportOptions) -> Converter:
    file_name = PurePath(options.file_name).name

    def convert(record: Mapping[str, Any], row: int) -> ItemDraft:
        _check_keys(record)
        instruction = text(record, "instruction")
        input_ = text(record, "input", allow_empty=True)
        output = text(record, "output")
        source = one_of(record, "source", _SOURCES)
        categorization = (
            one_of(record, "categorization", _CATEGORIZATIONS) if "categorization" in record else ""
        )
        return ItemDraft(
            instruction=instruction,
            input=input_,
            output=output,
            source=source,
            categorization=categorization,
            status=_CANDIDATE,
            source_key=None,  # hand-written: the content hash is the identity
            origin={"dataset": "vad", "file": file_name, "row": row},
        )

    return convert


FORMAT = ImportFormat(
    name="vad",
    description="VAD records: instruction, input, output, source, categorization",
    rules=(RULE_ALL,),
    make_converter=make_converter,
)
