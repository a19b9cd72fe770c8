"""Tiny random-weight models, built once per test session and loaded through the real loader."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from scoring.backends import LoadedModel, load_causal_lm
from scoring.toy import build_toy_model

# Long enough for the default max_answer_tokens (512) to cut an answer before the model's own
# limit does.
TOY_MAX_POSITIONS = 1024
SHORT_MAX_POSITIONS = 64


def _build_and_load(root: Path, name: str, **options) -> LoadedModel:
    path = build_toy_model(root / name, **options)
    return load_causal_lm(str(path), device="cpu")


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("toy-models")


@pytest.fixture(scope="session")
def llama_with_bos(toy_root) -> LoadedModel:
    """Variant A: BOS ``<s>``, EOS, padding and a chat template."""
    return _build_and_load(
        toy_root, "llama-bos", max_position_embeddings=TOY_MAX_POSITIONS, arch="llama"
    )


@pytest.fixture(scope="session")
def llama_without_bos(toy_root) -> LoadedModel:
    """Variant B: no BOS, EOS only, no chat template."""
    return _build_and_load(
        toy_root,
        "llama-no-bos",
        with_bos=False,
        chat_template=False,
        max_position_embeddings=TOY_MAX_POSITIONS,
        arch="llama",
        seed=1,
    )


@pytest.fixture(scope="session")
def qwen2_without_bos(toy_root) -> LoadedModel:
    """Qwen2 layout (attention biases, no BOS) like the real Qwen2.5 models."""
    return _build_and_load(
        toy_root,
        "qwen2-no-bos",
        with_bos=False,
        chat_template=True,
        max_position_embeddings=TOY_MAX_POSITIONS,
        arch="qwen2",
        seed=2,
    )


@pytest.fixture(scope="session")
def short_llama(toy_root) -> LoadedModel:
    """A model that takes only 64 tokens, so long prompts must be cut."""
    return _build_and_load(
        toy_root, "llama-short", max_position_embeddings=SHORT_MAX_POSITIONS, seed=3
    )


_ZH = [
    "请解释什么是价值观对齐",
    "个人应当诚实守信，尊重他人",
    "社会需要公平正义",
    "国家安全是民族复兴的根基",
    "遇到网络诈骗时应当立即报警",
    "春风拂面，桃花盛开",
    "环境保护人人有责",
    "尊老爱幼是中华民族的传统美德",
]
_EN = [
    "Explain why honesty matters.",
    "Honesty builds trust between people.",
    "You should refuse politely.",
    "The quick brown fox jumps over the lazy dog.",
    "Large language models learn patterns from text.",
    "Summarize the following paragraph in one sentence.",
]


def _text(rng: random.Random, sentences: int) -> str:
    pieces = [rng.choice(_ZH + _EN) for _ in range(sentences)]
    return rng.choice(["", " ", "\n"]).join(pieces)


def make_mixed_pairs(count: int = 50, *, seed: int = 0) -> list[tuple[str, str, str]]:
    """(instruction, input, output) triples of varied lengths, Chinese and English mixed.

    Every fifth has an empty input; a few outputs are a single character; two are far longer
    than 512 tokens.
    """
    rng = random.Random(seed)
    triples = []
    for i in range(count):
        instruction = _text(rng, rng.randint(1, 3))
        input = "" if i % 5 == 0 else _text(rng, rng.randint(0, 4))
        if i % 11 == 3:
            output = rng.choice(["好", "是", "a", "。"])
        elif i in (7, 30):
            output = _text(rng, 90)
        else:
            output = _text(rng, rng.randint(1, 12))
        triples.append((instruction, input, output))
    return triples


@pytest.fixture(scope="session")
def mixed_triples() -> list[tuple[str, str, str]]:
    return make_mixed_pairs()
