"""Text generation for translation and evolution: one interface, three backends.

- ``LocalChatGenerator`` (``scoring.local_lm``): a transformers causal LM in this process,
  prompts rendered with its chat template, batched with left padding;
- ``Seq2SeqGenerator`` (``scoring.seq2seq``): a MarianMT/NLLB-style translation model in this
  process; the source text is the last user message;
- ``OpenAIChatGenerator`` (``scoring.openai_client``): a served model (vLLM or any
  OpenAI-compatible server) through ``POST {base_url}/chat/completions``.

``get_generator`` picks one from the settings the Django side holds; every configuration
mistake it can see (no model, a model that cannot be loaded, a translation model asked to
evolve) is a ``GeneratorConfigError`` whose message names the setting to fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar, runtime_checkable

Purpose = Literal["translate", "evolve"]


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt: chat messages (``{"role": ..., "content": ...}``) and a length limit.

    For a seq2seq translation model the content of the last user message is the source text.
    """

    messages: list[dict[str, str]] = field(hash=False)
    max_new_tokens: int = 512

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("a generation request needs at least one message")
        for position, message in enumerate(self.messages):
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                raise ValueError(f"message {position}: needs a string 'content'")
            if message.get("role") not in {"system", "user", "assistant"}:
                raise ValueError(
                    f"message {position}: role {message.get('role')!r} is not one of "
                    "system, user, assistant"
                )
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, not {self.max_new_tokens}")

    @classmethod
    def user(cls, content: str, *, system: str | None = None, max_new_tokens: int = 512):
        """A request of one user message (after an optional system message)."""
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": content})
        return cls(messages=messages, max_new_tokens=max_new_tokens)


@runtime_checkable
class Generator(Protocol):
    name: str  # the model name or path, recorded in provenance
    is_chat: bool  # False for seq2seq translation models

    def generate(self, requests: Sequence[GenerationRequest], *, seed: int = 0) -> list[str]:
        """One text per request, in input order. Greedy (deterministic) by default."""
        ...


class GeneratorConfigError(ValueError):
    """The generation settings cannot work; the message names the setting to fix."""


class GenerationError(RuntimeError):
    """A configured backend failed to generate: a server that stays unreachable after the
    retries, answers 4xx, or answers something that is not a chat completion; a prompt longer
    than the model takes. ``index`` is the position of the request at fault in the
    ``generate`` call when one request is (a caller can flag that item and retry the rest),
    else None."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@contextmanager
def blaming(owner: Callable[[int], int]) -> Iterator[None]:
    """Re-raise a GenerationError that blames request ``i`` as one blaming ``owner(i)``: the
    text, or the item, that request was made for."""
    try:
        yield
    except GenerationError as error:
        if error.index is None:
            raise
        raise GenerationError(str(error), index=owner(error.index)) from error


Output = TypeVar("Output")


def run_setting_aside(
    run: Callable[[list[int]], list[Output]], count: int, *, most: int
) -> tuple[dict[int, Output], dict[int, str]]:
    """Run `run` on the positions 0..count-1 (one output each, in order); when it fails with
    a GenerationError that blames one of them (``index``: a place in the list it was given),
    set that position aside with the error and run the others again, at most `most` times.

    Returns (outputs by position, errors by position set aside). One prompt a model cannot
    take (longer than its context, refused with a 400) would otherwise fail its whole chunk
    again on every resume. More failures than `most`, or one that blames no single request
    (a server that is down), raise the error: that is the setup, not an item.
    """
    todo = list(range(count))
    failed: dict[int, str] = {}
    while True:
        try:
            outputs = run(todo) if todo else []
        except GenerationError as error:
            if error.index is None or not 0 <= error.index < len(todo) or len(failed) >= most:
                raise
            failed[todo.pop(error.index)] = str(error)
            continue
        return dict(zip(todo, outputs, strict=True)), failed


_REASONING = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)


def strip_reasoning(text: str) -> str:
    """The answer without a leading ``<think>...</think>`` block, which reasoning models
    (Qwen3, DeepSeek-R1) write before it when nothing separates it out; stripped."""
    return _REASONING.sub("", text, count=1).strip()


def get_generator(
    model: str,
    *,
    purpose: Purpose,
    setting: str,
    device: str = "auto",
    base_url: str | None = None,
    api_key: str | None = None,
    concurrency: int = 8,
    timeout: float = 120.0,
    max_retries: int = 4,
    batch_size: int = 8,
    temperature: float = 0.0,
) -> Generator:
    """The generator for ``model``, used for ``purpose``.

    ``setting`` is the name of the setting ``model`` came from (``VAD_TRANSLATE_MODEL``,
    ``VAD_EVOLVE_MODEL``): error messages name it. With ``base_url`` the model is served
    (``model`` is the name the server knows, sent as ``model``); without it ``model`` is a
    local path or cached hub name loaded in this process (once: loaded models are cached).
    ``concurrency``, ``timeout`` and ``max_retries`` apply to a server, ``batch_size`` and
    ``device`` to a local model. ``temperature`` 0 is greedy decoding.
    """
    if purpose not in ("translate", "evolve"):
        raise ValueError(f"purpose must be 'translate' or 'evolve', not {purpose!r}")
    model = (model or "").strip()
    if not model:
        what = "translation" if purpose == "translate" else "evolution"
        raise GeneratorConfigError(
            f"{setting} is not set: no model is configured for {what}. Set {setting} to a "
            "local model path (or, with VAD_LLM_BASE_URL, the name a served model is known by)."
        )
    if base_url:
        from scoring.openai_client import OpenAIChatGenerator

        if purpose == "evolve" and _local_config_is_seq2seq(model):
            raise _seq2seq_for_evolution(model, setting)
        return OpenAIChatGenerator(
            base_url=base_url,
            model=model,
            api_key=api_key or None,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
            temperature=temperature,
            setting=setting,
        )
    config = _load_config(model, setting)
    if getattr(config, "is_encoder_decoder", False):
        if purpose == "evolve":
            raise _seq2seq_for_evolution(model, setting)
        from scoring.seq2seq import Seq2SeqGenerator, load_seq2seq_lm

        loaded = _load_or_explain(load_seq2seq_lm, model, device, setting)
        return Seq2SeqGenerator(loaded, batch_size=batch_size)
    from scoring.backends import load_causal_lm
    from scoring.local_lm import LocalChatGenerator

    loaded = _load_or_explain(load_causal_lm, model, device, setting)
    if not getattr(loaded.tokenizer, "chat_template", None):
        raise GeneratorConfigError(
            f"{setting}={model!r}: this model's tokenizer has no chat template; use an "
            "instruction-tuned (chat) model, or a seq2seq translation model for translation."
        )
    return LocalChatGenerator(loaded, batch_size=batch_size, temperature=temperature)


def _seq2seq_for_evolution(model: str, setting: str) -> GeneratorConfigError:
    return GeneratorConfigError(
        f"{setting}={model!r} is a sequence-to-sequence (translation) model; evolution needs "
        f"a chat model that follows instructions. Set {setting} to a causal chat model."
    )


def _load_config(model: str, setting: str):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model)
    except (OSError, ValueError, KeyError) as error:
        raise GeneratorConfigError(
            f"{setting}={model!r}: cannot load this model's configuration ({error}). Give the "
            "path of a local transformers model folder, or set VAD_LLM_BASE_URL to use a "
            "served model."
        ) from error


def _load_or_explain(loader, model: str, device: str, setting: str):
    try:
        return loader(model, device=device)
    except ValueError as error:
        if "device" in str(error):
            raise GeneratorConfigError(f"VAD_DEVICE: {error}") from error
        raise GeneratorConfigError(f"{setting}={model!r}: cannot load it ({error})") from error
    except OSError as error:
        raise GeneratorConfigError(f"{setting}={model!r}: cannot load it ({error})") from error


def _local_config_is_seq2seq(model: str) -> bool:
    """With a server, only a local folder's config can be read (no hub look-ups)."""
    config_path = os.path.join(model, "config.json")
    if not os.path.isfile(config_path):
        return False
    try:
        config = _load_config(model, "")
    except GeneratorConfigError:
        return False
    return bool(getattr(config, "is_encoder_decoder", False))


def clear_generator_caches() -> None:
    """Forget every model loaded for generation (and scoring): tests, freeing a GPU."""
    from scoring.backends import clear_model_cache
    from scoring.seq2seq import clear_seq2seq_cache

    clear_model_cache()
    clear_seq2seq_cache()
