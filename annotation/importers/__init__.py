"""Import formats (SPEC §3): each turns one raw record into an item draft.

The registry below is the one list of formats and rules; the command, the API and the
service all validate against it.
"""

from __future__ import annotations

from . import cvalues, saferlhf, vad
from .base import BadRow, ImportFormat, ImportOptions, ItemDraft
from .reader import RecordStream, UnreadableFile

FORMATS: dict[str, ImportFormat] = {
    fmt.name: fmt
    for fmt in (
        saferlhf.FORMAT,
        cvalues.PROMPTS_FORMAT,
        cvalues.COMPARISON_FORMAT,
        vad.FORMAT,
    )
}


class UnknownFormat(ValueError):
    pass


def get_format(name: str) -> ImportFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise UnknownFormat(
            f"unknown import format {name!r}; choose one of {', '.join(FORMATS)}"
        ) from None


def resolve_rule(fmt: ImportFormat, rule: str | None) -> str:
    """The rule to apply: the format's default when none is given."""
    if not rule:
        return fmt.default_rule
    if rule not in fmt.rules:
        raise UnknownFormat(
            f"unknown rule {rule!r} for format {fmt.name}; choose one of {', '.join(fmt.rules)}"
        )
    return rule


__all__ = [
    "FORMATS",
    "BadRow",
    "ImportFormat",
    "ImportOptions",
    "ItemDraft",
    "RecordStream",
    "UnknownFormat",
    "UnreadableFile",
    "get_format",
    "resolve_rule",
]
