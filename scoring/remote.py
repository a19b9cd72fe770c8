"""IFD scores from an OpenAI-compatible server that returns prompt log-probabilities (vLLM).

The prompts are rendered and tokenized here, with the served model's own tokenizer, into
exactly the token sequences ``compute_ifd`` scores (``scoring.ifd.tokenize_pairs`` and
``build_rows``), and sent as token ids, so the server never re-tokenizes. vLLM's extension
``"prompt_logprobs": 0`` returns the log-probability of every prompt token; the answer's are
averaged into the same losses as the local path.

HTTP goes through ``scoring.http_json`` (plain ``urllib``, shared with the generation client):
connection errors, timeouts, 5xx and 429 are retried with backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from transformers import AutoConfig, AutoTokenizer, PreTrainedTokenizerBase

from scoring.backends import ScoringInput
from scoring.http_json import HTTPRequestError, RetryPolicy, post_json
from scoring.ifd import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_ANSWER_TOKENS,
    IFDResult,
    TokenizedPairs,
    build_rows,
    model_max_length,
    results_from_losses,
    tokenize_pairs,
)
from scoring.prompts import render_prompt


class RemoteScoringError(RuntimeError):
    """The server could not be reached or did not answer with what IFD scoring needs."""


class RemoteIFDScorer:
    """Scores through ``{base_url}/completions`` with ``prompt_logprobs``.

    ``model`` is the name the server serves; ``tokenizer_path`` (default: ``model``) is a
    local copy of that model's tokenizer (and config, for its maximum length).
    ``batch_size`` pairs go in one request (two prompts each); ``concurrency`` requests are
    in flight at once so the server can batch across them.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        tokenizer_path: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS,
        max_length: int | None = None,
        concurrency: int = 4,
        timeout_s: float = 300.0,
        max_retries: int = 3,
        tokenizer: PreTrainedTokenizerBase | None = None,
    ) -> None:
        self.name = model
        self.url = base_url.rstrip("/") + "/completions"
        self.api_key = api_key
        self.batch_size = batch_size
        self.max_answer_tokens = max_answer_tokens
        self.concurrency = max(1, concurrency)
        self.timeout_s = timeout_s
        self.retry = RetryPolicy(max_retries=max(0, max_retries))
        path = tokenizer_path or model
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(path)
        self.max_length = max_length or _max_length_of(path, self.tokenizer)

    def score(self, inputs: Sequence[ScoringInput]) -> list[IFDResult]:
        pairs = [(render_prompt(self.tokenizer, x.instruction, x.input), x.output) for x in inputs]
        return self.score_pairs(pairs)

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[IFDResult]:
        """Like ``compute_ifd``: ``(prompt_text, answer_text)`` pairs, results in input order."""
        if not pairs:
            return []
        tokenized = tokenize_pairs(
            self.tokenizer,
            pairs,
            max_answer_tokens=self.max_answer_tokens,
            max_length=self.max_length,
        )
        chunks = [
            list(range(begin, min(begin + self.batch_size, len(pairs))))
            for begin in range(0, len(pairs), self.batch_size)
        ]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            chunk_losses = list(pool.map(lambda c: self._score_chunk(tokenized, c), chunks))
        loss_cond = [loss for cond, _ in chunk_losses for loss in cond]
        loss_uncond = [loss for _, uncond in chunk_losses for loss in uncond]
        return results_from_losses(tokenized, loss_cond, loss_uncond)

    def _score_chunk(
        self, tokenized: TokenizedPairs, pair_indices: list[int]
    ) -> tuple[list[float], list[float]]:
        rows = build_rows(tokenized, torch.tensor(pair_indices, dtype=torch.long))
        sequences = rows.as_lists()
        choices = self._completions(sequences)
        losses = [
            _answer_loss(sequence, int(answer_length), choice, row=row)
            for row, (sequence, answer_length, choice) in enumerate(
                zip(sequences, rows.answer_lengths, choices, strict=True)
            )
        ]
        n = len(pair_indices)
        return losses[:n], losses[n:]

    def _completions(self, sequences: list[list[int]]) -> list[dict[str, Any]]:
        body = {
            "model": self.name,
            "prompt": sequences,
            "max_tokens": 1,
            "prompt_logprobs": 0,
            "temperature": 0,
        }
        answer = self._post(body)
        choices = answer.get("choices") if isinstance(answer, dict) else None
        if not isinstance(choices, list) or len(choices) != len(sequences):
            raise RemoteScoringError(
                f"{self.url} answered {len(choices) if isinstance(choices, list) else 'no'} "
                f"choices for {len(sequences)} prompts"
            )
        return sorted(choices, key=lambda c: c.get("index", 0))

    def _post(self, body: dict[str, Any]) -> Any:
        try:
            return post_json(
                self.url, body, api_key=self.api_key, timeout=self.timeout_s, retry=self.retry
            )
        except HTTPRequestError as error:
            raise RemoteScoringError(str(error)) from error


def _max_length_of(path: str, tokenizer: PreTrainedTokenizerBase) -> int | None:
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError):
        config = None  # a tokenizer-only folder: the tokenizer's own limit is all we know
    return model_max_length(config, tokenizer)


def _answer_loss(
    sequence: list[int], answer_length: int, choice: dict[str, Any], *, row: int
) -> float:
    """Mean negative log-probability of the last ``answer_length`` tokens of ``sequence``."""
    prompt_logprobs = choice.get("prompt_logprobs")
    if prompt_logprobs is None:
        raise RemoteScoringError(
            "the server did not return prompt_logprobs; IFD scoring needs an OpenAI-compatible "
            'server that supports them (e.g. vLLM, which accepts "prompt_logprobs": 0)'
        )
    if len(prompt_logprobs) != len(sequence):
        raise RemoteScoringError(
            f"prompt {row}: {len(prompt_logprobs)} prompt_logprobs for {len(sequence)} tokens"
        )
    total = 0.0
    for position in range(len(sequence) - answer_length, len(sequence)):
        token = sequence[position]
        entry = (prompt_logprobs[position] or {}).get(str(token))
        if entry is None:
            raise RemoteScoringError(
                f"prompt {row}: no log-probability for token {token} at position {position}"
            )
        total -= entry["logprob"] if isinstance(entry, dict) else float(entry)
    return total / answer_length
