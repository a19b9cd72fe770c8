"""A diff of two texts for people to read before an edit is saved.

Chinese is compared character by character; runs of Latin letters and digits count as one
word, so English edits read as changed words rather than scattered letters.
"""

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

_TOKENS = re.compile(r"[A-Za-z0-9_]+|\s+|.", re.S)
# Unchanged stretches longer than this are shortened to their ends.
KEEP_CONTEXT = 60
# Beyond this many tokens a side, compare lines instead (difflib is quadratic at worst).
MAX_TOKENS = 30_000


@dataclass(frozen=True)
class Segment:
    op: str  # "equal", "delete", "insert" or "skip" (an unchanged stretch left out)
    text: str = ""
    skipped: int = 0  # characters left out, for "skip"


def _tokens(text: str) -> list[str]:
    tokens = _TOKENS.findall(text)
    if len(tokens) > MAX_TOKENS:
        return text.splitlines(keepends=True)
    return tokens


def text_diff(old: str, new: str) -> list[Segment]:
    a, b = _tokens(old), _tokens(new)
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    segments: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.extend(_shortened("".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            segments.append(Segment("delete", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            segments.append(Segment("insert", "".join(b[j1:j2])))
    return segments


def _shortened(text: str) -> list[Segment]:
    if len(text) <= 3 * KEEP_CONTEXT:
        return [Segment("equal", text)]
    return [
        Segment("equal", text[:KEEP_CONTEXT]),
        Segment("skip", skipped=len(text) - 2 * KEEP_CONTEXT),
        Segment("equal", text[-KEEP_CONTEXT:]),
    ]


def field_diffs(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, list[Segment]]]:
    """(field, segments) for each field whose text changed, in the order of `new`."""
    return [
        (field, text_diff(old.get(field, ""), value))
        for field, value in new.items()
        if old.get(field, "") != value
    ]
