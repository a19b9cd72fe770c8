"""Where scores come from: a local transformers model, or an OpenAI-compatible server.

``get_scorer`` is the one entry point the Django side needs; both scorers take
``ScoringInput`` items and return ``IFDResult``s in the same order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from scoring.ifd import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_ANSWER_TOKENS,
    IFDResult,
    compute_ifd,
)
from scoring.prompts import render_prompt

logger = logging.getLogger(__name__)


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto``: CUDA when it is available, else the CPU; ``cuda``, ``cuda:1``, ``cpu`` as given."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as error:
        raise ValueError(f"unknown device {spec!r}: use auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} was asked for but CUDA is not available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {spec!r}: only {torch.cuda.device_count()} GPU(s) here")
    return device


@dataclass(frozen=True)
class LoadedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    dtype: torch.dtype
    name: str


_model_cache: dict[tuple[str, str], LoadedModel] = {}
_model_cache_lock = threading.Lock()


def load_causal_lm(name_or_path: str, *, device: str = "auto") -> LoadedModel:
    """Load a causal LM and its tokenizer for scoring, once per process and device.

    bfloat16 on CUDA (half the memory, full speed on tensor cores), float32 on the CPU (where
    bfloat16 matmuls are slow and the SPEC's 1e-4 agreement is defined).
    """
    resolved = resolve_device(device)
    key = (str(name_or_path), str(resolved))
    with _model_cache_lock:
        if key not in _model_cache:
            _model_cache[key] = _load(str(name_or_path), resolved)
        return _model_cache[key]


def _load(name_or_path: str, device: torch.device) -> LoadedModel:
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            name_or_path, dtype=dtype, attn_implementation="sdpa"
        )
    except ValueError as error:
        # A few architectures (Gemma2's attention soft-capping) have no SDPA path; their
        # default attention is still correct, only slower.
        if "scaled_dot_product_attention" not in str(error):
            raise
        logger.warning("%s: no SDPA attention, using the default one", name_or_path)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype)
    model.to(device)
    model.eval()
    return LoadedModel(
        model=model, tokenizer=tokenizer, device=device, dtype=dtype, name=name_or_path
    )


def clear_model_cache() -> None:
    """Forget every loaded model (tests; freeing a GPU between jobs)."""
    with _model_cache_lock:
        _model_cache.clear()


@dataclass(frozen=True)
class ScoringInput:
    instruction: str
    input: str
    output: str


class IFDScorer(Protocol):
    name: str
    max_answer_tokens: int

    def score(self, inputs: Sequence[ScoringInput]) -> list[IFDResult]: ...


class LocalIFDScorer:
    """Scores with a model loaded in this process (``compute_ifd``)."""

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS,
        token_budget: int | None = None,
    ) -> None:
        self.loaded = loaded
        self.name = loaded.name
        self.batch_size = batch_size
        self.max_answer_tokens = max_answer_tokens
        self.token_budget = token_budget

    def score(self, inputs: Sequence[ScoringInput]) -> list[IFDResult]:
        tokenizer = self.loaded.tokenizer
        pairs = [(render_prompt(tokenizer, x.instruction, x.input), x.output) for x in inputs]
        return compute_ifd(
            self.loaded.model,
            tokenizer,
            pairs,
            batch_size=self.batch_size,
            max_answer_tokens=self.max_answer_tokens,
            token_budget=self.token_budget,
        )


def get_scorer(
    model: str,
    *,
    device: str = "auto",
    base_url: str | None = None,
    api_key: str | None = None,
    **kwargs: Any,
) -> IFDScorer:
    """A scorer for ``model``: remote when ``base_url`` is given, else loaded locally.

    For a remote scorer ``model`` is the name the server knows; pass ``tokenizer_path`` (a
    local path) when that name is not also a loadable tokenizer path. Other keyword arguments
    (``batch_size``, ``max_answer_tokens``, ...) go to the scorer.
    """
    if base_url:
        from scoring.remote import RemoteIFDScorer  # imported here: remote imports this module

        return RemoteIFDScorer(base_url=base_url, model=model, api_key=api_key, **kwargs)
    return LocalIFDScorer(load_causal_lm(model, device=device), **kwargs)
