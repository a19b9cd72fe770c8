"""PKU-SafeRLHF rows (SPEC §3) → English pairs waiting for translation.

Each row holds one prompt and two responses with safety labels. A selection rule picks the
response to keep, or none; the kept pair becomes a `pending_translation` item whose text
fields hold the English until it is translated (the English is also kept in origin).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from ..models import Source, Status
from .base import (
    BadRow,
    Converter,
    ImportFormat,
    ImportOptions,
    ItemDraft,
    boolean,
    infer_config_split,
    integer,
    is_usable_text,
    json_type,
    require,
    text,
)

DATASET = "PKU-Alignment/PKU-SafeRLHF"
LICENSE = "CC-BY-NC-4.0"
RULE_SAFE_BETTER = "safe-better"
RULE_SAFE = "safe"
RESPONSES = (0, 1)

# Field names, built once: the converter runs for every row.
_RESPONSE = tuple(f"response_{i}" for i in RESPONSES)
_IS_SAFE = tuple(f"is_response_{i}_safe" for i in RESPONSES)
_HARM = tuple(f"response_{i}_harm_category" for i in RESPONSES)
_SEVERITY = tuple(f"response_{i}_severity_level" for i in RESPONSES)
_SHA256 = tuple(f"response_{i}_sha256" for i in RESPONSES)
_RESPONSE_SOURCE = tuple(f"response_{i}_source" for i in RESPONSES)
_Severity = Annotated[int, msgspec.Meta(ge=0, le=3)]
_ResponseId = Annotated[int, msgspec.Meta(ge=0, le=1)]


def response_sha256(prompt: str, response: str) -> str:
    """The dataset's own row identity: sha256 of the UTF-8 bytes of prompt + response."""
    return hashlib.sha256((prompt + response).encode("utf-8")).hexdigest()


def choose_response(
    *, rule: str, better: int, safer: int, is_safe: tuple[bool, bool]
) -> int | None:
    """The response a rule keeps, or None when the row does not qualify."""
    if rule == RULE_SAFE_BETTER:
        return better if better == safer and is_safe[better] else None
    if rule == RULE_SAFE:
        return safer if is_safe[safer] else None
    raise ValueError(f"unknown SafeRLHF rule {rule!r}")


class SafeRLHFRow(msgspec.Struct):
    """The fields of a row that an import reads, with their JSON types and ranges."""

    prompt: str
    response_0: str
    response_1: str
    is_response_0_safe: bool
    is_response_1_safe: bool
    response_0_harm_category: dict[str, bool]
    response_1_harm_category: dict[str, bool]
    response_0_severity_level: _Severity
    response_1_severity_level: _Severity
    better_response_id: _ResponseId
    safer_response_id: _ResponseId
    prompt_source: str
    response_0_source: str
    response_1_source: str
    response_0_sha256: str | None = None
    response_1_sha256: str | None = None

    def texts(self) -> tuple[str, ...]:
        return (
            self.prompt,
            self.response_0,
            self.response_1,
            self.prompt_source,
            self.response_0_source,
            self.response_1_source,
        )


_row_decoder = msgspec.json.Decoder(SafeRLHFRow)


def decode_line(raw: bytes) -> SafeRLHFRow | None:
    """A JSON line as a checked row, or None to leave it to the general path.

    msgspec checks every type and range while it parses, in C, which takes most of the
    per-row Python work off a large import. It cannot word our errors, so a line it refuses,
    or one with a text that ``text`` would refuse (empty, blank, or with a NUL), goes the
    general way (orjson, then the checks in ``_checked_row``), which names the field and
    gives the same verdict.
    """
    try:
        row = _row_decoder.decode(raw)
    except (msgspec.MsgspecError, ValueError):
        return None
    return row if all(map(is_usable_text, row.texts())) else None


def _checked_categories(record: Mapping[str, Any], name: str) -> dict[str, bool]:
    categories = record.get(name)
    if not isinstance(categories, dict):
        require(record, name)
        raise BadRow(name, f"must be an object of harm categories, not {json_type(categories)}")
    for category, flag in categories.items():
        if not isinstance(flag, bool):
            raise BadRow(name, f"{category!r} must be true or false, not {json_type(flag)}")
    return categories


def _optional_hex(record: Mapping[str, Any], name: str) -> str | None:
    given = record.get(name)
    if given is not None and not isinstance(given, str):
        raise BadRow(name, f"must be a hex string, not {json_type(given)}")
    return given


def _checked_row(record: Mapping[str, Any]) -> SafeRLHFRow:
    """The row of a parsed record, or BadRow naming the first field that is wrong."""
    # Keyword arguments are evaluated in order: the first bad field in this order is named.
    return SafeRLHFRow(
        prompt=text(record, "prompt"),
        response_0=text(record, _RESPONSE[0]),
        response_1=text(record, _RESPONSE[1]),
        is_response_0_safe=boolean(record, _IS_SAFE[0]),
        is_response_1_safe=boolean(record, _IS_SAFE[1]),
        response_0_harm_category=_checked_categories(record, _HARM[0]),
        response_1_harm_category=_checked_categories(record, _HARM[1]),
        response_0_severity_level=integer(record, _SEVERITY[0], low=0, high=3),
        response_1_severity_level=integer(record, _SEVERITY[1], low=0, high=3),
        better_response_id=integer(record, "better_response_id", low=0, high=1),
        safer_response_id=integer(record, "safer_response_id", low=0, high=1),
        prompt_source=text(record, "prompt_source"),
        response_0_source=text(record, _RESPONSE_SOURCE[0]),
        response_1_source=text(record, _RESPONSE_SOURCE[1]),
        response_0_sha256=_optional_hex(record, _SHA256[0]),
        response_1_sha256=_optional_hex(record, _SHA256[1]),
    )


def _checked_sha256(given: str | None, index: int, prompt: str, response: str) -> str:
    computed = response_sha256(prompt, response)
    if given is not None and given.lower() != computed:
        raise BadRow(
            _SHA256[index],
            f"does not match prompt + {_RESPONSE[index]} (expected {computed}): "
            "the row was changed or damaged",
        )
    return computed


def _flagged(categories: dict[str, bool]) -> list[str]:
    return [category for category, flag in categories.items() if flag]


def make_converter(options: ImportOptions) -> Converter:
    rule = options.rule
    choose_response(rule=rule, better=0, safer=0, is_safe=(True, True))  # unknown rule fails now
    config, split = infer_config_split(options.file_name)
    config = options.config or config
    split = options.split or split

    def convert(record: SafeRLHFRow | Mapping[str, Any], row: int) -> ItemDraft | None:
        if not isinstance(record, SafeRLHFRow):
            record = _checked_row(record)
        prompt = record.prompt
        responses = (record.response_0, record.response_1)
        # Both hashes are checked, also for the response not kept: a damaged row is refused.
        hashes = (
            _checked_sha256(record.response_0_sha256, 0, prompt, responses[0]),
            _checked_sha256(record.response_1_sha256, 1, prompt, responses[1]),
        )
        chosen = choose_response(
            rule=rule,
            better=record.better_response_id,
            safer=record.safer_response_id,
            is_safe=(record.is_response_0_safe, record.is_response_1_safe),
        )
        if chosen is None:
            return None
        harm = {
            *_flagged(record.response_0_harm_category),
            *_flagged(record.response_1_harm_category),
        }
        return ItemDraft(
            instruction=prompt,
            input="",
            output=responses[chosen],
            source=Source.TRANSLATED.value,
            categorization="",
            status=Status.PENDING_TRANSLATION.value,
            source_key=f"saferlhf:{hashes[chosen]}",
            origin={
                "dataset": DATASET,
                "config": config,
                "split": split,
                "row": row,
                "license": LICENSE,
                # The prompt's risk area: the chosen safe response has no category of its own.
                "harm_categories": sorted(harm),
                "severity": max(record.response_0_severity_level, record.response_1_severity_level),
                "response_source": (record.response_0_source, record.response_1_source)[chosen],
                "prompt_source": record.prompt_source,
                "response_id": chosen,
                "rule": rule,
            },
        )

    return convert


FORMAT = ImportFormat(
    name="saferlhf",
    description="PKU-SafeRLHF preference rows (JSON lines, JSON array or Parquet)",
    rules=(RULE_SAFE_BETTER, RULE_SAFE),
    make_converter=make_converter,
    line_decoder=decode_line,
)
