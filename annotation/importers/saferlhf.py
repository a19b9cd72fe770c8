"""PKU-SafeRLHF rows (SPEC §3) → English pairs waiting for translation.

Each row holds one prompt and two responses with safety labels. A selection rule picks the
response to keep, or none; the kept pair becomes a `pending_translation` item whose text
fields hold the English until it is translated (the English is also kept in origin).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

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
_BOOL = frozenset({bool})


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


def _flagged_categories(record: Mapping[str, Any], name: str) -> list[str]:
    categories = record.get(name)
    if type(categories) is not dict:
        require(record, name)
        raise BadRow(name, f"must be an object of harm categories, not {json_type(categories)}")
    if not set(map(type, categories.values())) <= _BOOL:
        for category, flag in categories.items():
            if type(flag) is not bool:
                raise BadRow(name, f"{category!r} must be true or false, not {json_type(flag)}")
    return [category for category, flag in categories.items() if flag]


def _checked_sha256(record: Mapping[str, Any], index: int, prompt: str, response: str) -> str:
    computed = response_sha256(prompt, response)
    name = _SHA256[index]
    given = record.get(name)
    if given is None:
        return computed
    if type(given) is not str:
        raise BadRow(name, f"must be a hex string, not {json_type(given)}")
    if given.lower() != computed:
        raise BadRow(
            name,
            f"does not match prompt + {_RESPONSE[index]} (expected {computed}): "
            "the row was changed or damaged",
        )
    return computed


def make_converter(options: ImportOptions) -> Converter:
    rule = options.rule
    choose_response(rule=rule, better=0, safer=0, is_safe=(True, True))  # unknown rule fails now
    config, split = infer_config_split(options.file_name)
    config = options.config or config
    split = options.split or split

    def convert(record: Mapping[str, Any], row: int) -> ItemDraft | None:
        prompt = text(record, "prompt")
        responses = (text(record, _RESPONSE[0]), text(record, _RESPONSE[1]))
        is_safe = (boolean(record, _IS_SAFE[0]), boolean(record, _IS_SAFE[1]))
        harm = (_flagged_categories(record, _HARM[0]), _flagged_categories(record, _HARM[1]))
        severity = tuple(integer(record, name, low=0, high=3) for name in _SEVERITY)
        better = integer(record, "better_response_id", low=0, high=1)
        safer = integer(record, "safer_response_id", low=0, high=1)
        prompt_source = text(record, "prompt_source")
        response_sources = (text(record, _RESPONSE_SOURCE[0]), text(record, _RESPONSE_SOURCE[1]))
        # Both hashes are checked, also for the response not kept: a damaged row is refused.
        hashes = tuple(_checked_sha256(record, i, prompt, responses[i]) for i in RESPONSES)

        chosen = choose_response(rule=rule, better=better, safer=safer, is_safe=is_safe)
        if chosen is None:
            return None
        answer = responses[chosen]
        return ItemDraft(
            instruction=prompt,
            input="",
            output=answer,
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
                "harm_categories": sorted({*harm[0], *harm[1]}),
                "severity": max(severity),
                "response_source": response_sources[chosen],
                "prompt_source": prompt_source,
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
)
