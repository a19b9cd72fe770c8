"""CValues (Alibaba X-PLUG) → seed prompts to evolve from (SPEC §3).

Two files share this module: the responsibility prompts (`cvalues`) and the comparison pairs
(`cvalues-comparison`), whose positive response is kept as context, not as the answer.
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
    infer_config_split,
    require,
    text,
)

LICENSE = "Apache-2.0"
PROMPTS_DATASET = "X-PLUG/CValues"
PROMPTS_CONFIG = "cvalues_responsibility_prompts"
COMPARISON_DATASET = "X-PLUG/CValues-Comparison"
RULE_ALL = "all"

_SEED = Status.SEED.value
_SYNTHETIC = Source.SYNTHETIC.value


def _prompt_id(record: Mapping[str, Any]) -> str:
    value = require(record, "id_")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.strip() and "\x00" not in value:
        return value.strip()
    raise BadRow("id_", f"must be a non-negative integer or a non-empty string, not {value!r}")


def _seed(*, prompt: str, source_key: str, origin: dict[str, Any]) -> ItemDraft:
    return ItemDraft(
        instruction=prompt,
        input="",
        output="",
        source=_SYNTHETIC,
        categorization="",
        status=_SEED,
        source_key=source_key,
        origin=origin,
    )


def make_prompts_converter(options: ImportOptions) -> Converter:
    def convert(record: Mapping[str, Any], row: int) -> ItemDraft:
        prompt_id = _prompt_id(record)
        prompt = text(record, "prompt")
        domain = text(record, "domain_en")
        domain_zh = text(record, "domain_zh")
        return _seed(
            prompt=prompt,
            source_key=f"cvalues:{prompt_id}",
            origin={
                "dataset": PROMPTS_DATASET,
                "config": PROMPTS_CONFIG,
                "split": None,
                "row": row,
                "license": LICENSE,
                "id": prompt_id,
                "domain": domain,
                "domain_zh": domain_zh,
            },
        )

    return convert


def make_comparison_converter(options: ImportOptions) -> Converter:
    _config, split = infer_config_split(options.file_name)
    split = options.split or split

    def convert(record: Mapping[str, Any], row: int) -> ItemDraft:
        prompt = text(record, "prompt")
        positive = text(record, "pos_resp")
        text(record, "neg_resp")  # checked so a damaged row is noticed, not stored
        pos_type = text(record, "pos_type", allow_empty=True)
        neg_type = text(record, "neg_type", allow_empty=True)
        digest = hashlib.sha256((prompt + positive).encode("utf-8")).hexdigest()
        return _seed(
            prompt=prompt,
            source_key=f"cvalues-comparison:{digest}",
            origin={
                "dataset": COMPARISON_DATASET,
                "config": options.config,
                "split": split,
                "row": row,
                "license": LICENSE,
                "reference_output": positive,
                "pos_type": pos_type,
                "neg_type": neg_type,
            },
        )

    return convert


PROMPTS_FORMAT = ImportFormat(
    name="cvalues",
    description="CValues responsibility prompts (id_, prompt, domain_en, domain_zh)",
    rules=(RULE_ALL,),
    make_converter=make_prompts_converter,
)

COMPARISON_FORMAT = ImportFormat(
    name="cvalues-comparison",
    description="CValues-Comparison pairs (prompt, pos_resp, neg_resp, pos_type, neg_type)",
    rules=(RULE_ALL,),
    make_converter=make_comparison_converter,
)
