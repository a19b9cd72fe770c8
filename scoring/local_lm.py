"""Generation with a causal chat model loaded in this process.

Prompts are rendered with the model's chat template (``add_generation_prompt=True``) and
tokenized without adding special tokens again (the template writes them). Requests are sorted
by (max new tokens, prompt length) so that a batch pads little, left-padded (generation
continues every row at its right end), generated together, and put back in input order.

Greedy decoding is deterministic, and a batch gives the one-at-a-time tokens: positions come
from the attention mask, so padding shifts nothing (the tests check it). With a temperature
above 0, ``seed`` seeds torch's generator for each batch, so the same requests in the same
order give the same texts.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from scoring.backends import LoadedModel
from scoring.generation import GenerationError, GenerationRequest, strip_reasoning
from scoring.ifd import model_max_length

logger = logging.getLogger(__name__)


class LocalChatGenerator:
    """``Generator`` over a ``LoadedModel`` (``scoring.backends.load_causal_lm``)."""

    is_chat = True

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        batch_size: int = 8,
        temperature: float = 0.0,
        top_p: float = 1.0,
        min_new_tokens: int = 0,
        token_budget: int | None = None,
        cache_implementation: str | None = "static",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.loaded = loaded
        self.name = loaded.name
        self.batch_size = batch_size
        self.temperature = temperature
        self.top_p = top_p
        # Benchmarks set it to max_new_tokens so that every row generates the same length.
        self.min_new_tokens = min_new_tokens
        # Padded tokens per batch at most (None: only batch_size bounds a batch).
        self.token_budget = token_budget
        # transformers' KV cache: "static" (allocated once per batch for prompt + new tokens)
        # spares the dynamic cache's concatenation at every step: 10-25 % faster batched
        # generation on the CPU (bench/generate.py). None: dynamic. A model without a static
        # cache falls back to the dynamic one.
        self.cache_implementation = cache_implementation
        tokenizer = loaded.tokenizer
        self.pad_token_id = pad_token_id(tokenizer, loaded.model)
        self.stop_ids = stop_token_ids(tokenizer, loaded.model)
        self.max_length = model_max_length(loaded.model.config, tokenizer)

    def render(self, request: GenerationRequest) -> list[int]:
        """The prompt's token ids: the chat template with the assistant header opened."""
        tokenizer = self.loaded.tokenizer
        # enable_thinking=False: templates with a thinking mode (Qwen3) answer directly;
        # other templates ignore the variable.
        text = tokenizer.apply_chat_template(
            request.messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
        )
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(self, requests: Sequence[GenerationRequest], *, seed: int = 0) -> list[str]:
        decode = self.loaded.tokenizer.decode
        return [
            strip_reasoning(decode(tokens, skip_special_tokens=True))
            for tokens in self.generate_tokens(requests, seed=seed)
        ]

    def generate_tokens(
        self, requests: Sequence[GenerationRequest], *, seed: int = 0
    ) -> list[list[int]]:
        """The new token ids of each answer, in input order, without the stop token."""
        prompts = [self.render(request) for request in requests]
        limits = [
            self._new_token_limit(len(ids), request.max_new_tokens, index)
            for index, (ids, request) in enumerate(zip(prompts, requests, strict=True))
        ]
        answers: list[list[int]] = [[] for _ in requests]
        batches = batches_by_length(prompts, limits, self.batch_size, self.token_budget)
        for number, batch in enumerate(batches):
            outputs = self._generate_batch(
                [prompts[i] for i in batch], max(limits[i] for i in batch), seed=seed + number
            )
            for index, tokens in zip(batch, outputs, strict=True):
                answers[index] = cut_at_stop(tokens[: limits[index]], self.stop_ids)
        return answers

    def _new_token_limit(self, prompt_length: int, wanted: int, index: int) -> int:
        if self.max_length is None:
            return wanted
        room = self.max_length - prompt_length
        if room < 1:
            raise GenerationError(
                f"request {index}: the prompt has {prompt_length} tokens, more than "
                f"{self.name} takes ({self.max_length})",
                index=index,
            )
        return min(wanted, room)

    def _generate_batch(self, prompts: list[list[int]], max_new_tokens: int, *, seed: int):
        model = self.loaded.model
        input_ids, attention_mask = left_pad(prompts, self.pad_token_id, self.loaded.device)
        config = generation_config(
            model,
            max_new_tokens=max_new_tokens,
            min_new_tokens=min(self.min_new_tokens, max_new_tokens),
            temperature=self.temperature,
            top_p=self.top_p,
            pad_token_id=self.pad_token_id,
        )
        if self.cache_implementation:
            config.cache_implementation = self.cache_implementation
        with seeded(seed, self.loaded.device), torch.inference_mode():
            try:
                output = model.generate(
                    input_ids=input_ids, attention_mask=attention_mask, generation_config=config
                )
            except ValueError as error:
                if not self.cache_implementation or "cache" not in str(error).lower():
                    raise
                logger.warning(
                    "%s: no %s KV cache (%s); using the dynamic one",
                    self.name,
                    self.cache_implementation,
                    error,
                )
                self.cache_implementation = None
                config.cache_implementation = None
                output = model.generate(
                    input_ids=input_ids, attention_mask=attention_mask, generation_config=config
                )
        return output[:, input_ids.shape[1] :].tolist()


def batches_by_length(
    prompts: Sequence[Sequence[int]],
    limits: Sequence[int],
    batch_size: int,
    token_budget: int | None = None,
) -> Iterator[list[int]]:
    """Indices in batches, sorted by (new-token limit, prompt length).

    Rows of one batch then wait little for each other's longer prompt or longer answer. A
    batch holds at most ``batch_size`` rows and, with ``token_budget``, at most that many
    padded tokens (rows x (longest prompt + most new tokens)): short prompts go in wide
    batches, long ones in narrow batches, and no padding-heavy batch blows the memory.
    """
    order = sorted(range(len(prompts)), key=lambda i: (limits[i], len(prompts[i]), i))
    batch: list[int] = []
    widest = 0
    for index in order:
        width = max(widest, len(prompts[index]) + limits[index])
        too_wide = token_budget is not None and (len(batch) + 1) * width > token_budget
        if batch and (len(batch) >= batch_size or too_wide):
            yield batch
            batch, width = [], len(prompts[index]) + limits[index]
        batch.append(index)
        widest = width
    if batch:
        yield batch


def left_pad(
    rows: Sequence[Sequence[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for number, row in enumerate(rows):
        if row:
            input_ids[number, width - len(row) :] = torch.tensor(row, dtype=torch.long)
            attention_mask[number, width - len(row) :] = 1
    return input_ids.to(device), attention_mask.to(device)


def pad_token_id(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> int:
    """The tokenizer's padding id, else its EOS (masked out either way)."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return int(candidate)
    eos = model.generation_config.eos_token_id
    if isinstance(eos, list) and eos:
        return int(eos[0])
    if isinstance(eos, int):
        return eos
    raise GenerationError(f"{model.name_or_path}: the tokenizer has neither PAD nor EOS")


def stop_token_ids(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> set[int]:
    """Where an answer ends: the generation config's EOS ids (e.g. ``<|im_end|>``) and the
    tokenizer's EOS."""
    ids: set[int] = set()
    eos = model.generation_config.eos_token_id
    if isinstance(eos, int):
        ids.add(eos)
    elif isinstance(eos, list):
        ids.update(int(token) for token in eos)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def cut_at_stop(tokens: Sequence[int], stop_ids: set[int]) -> list[int]:
    """The tokens before the first stop token (what follows is padding)."""
    for position, token in enumerate(tokens):
        if token in stop_ids:
            return list(tokens[:position])
    return list(tokens)


def generation_config(
    model: PreTrainedModel,
    *,
    max_new_tokens: int,
    min_new_tokens: int,
    temperature: float,
    top_p: float,
    pad_token_id: int,
) -> GenerationConfig:
    """The model's own generation config (its EOS ids, forced tokens) with our decoding.

    Temperature 0 is greedy: the sampling knobs a chat model ships with (Qwen's 0.7/0.8) are
    cleared so that generation is deterministic and transformers does not warn about them.
    """
    config = copy.deepcopy(model.generation_config)
    config.max_new_tokens = max_new_tokens
    config.min_new_tokens = min_new_tokens or None
    config.max_length = None
    config.num_beams = 1
    config.num_return_sequences = 1
    config.pad_token_id = pad_token_id
    if temperature > 0:
        config.do_sample = True
        config.temperature = temperature
        config.top_p = top_p
        config.top_k = None
    else:
        config.do_sample = False
        config.temperature = None
        config.top_p = None
        config.top_k = None
    return config


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch for one batch without disturbing the caller's random state."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield
