"""Tiny random-weight models and tokenizers, built locally for tests, benchmarks and the demo.

Nothing is downloaded: the tokenizer is a byte-level BPE trained in a few milliseconds on the
small mixed Chinese/English corpus below (byte level means any text can still be encoded), and
the model is a freshly initialised Llama or Qwen2 (causal) or MarianMT (seq2seq translation)
with a fixed seed. Everything is saved with ``save_pretrained`` and loads through the real
``Auto*`` classes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    MarianConfig,
    MarianMTModel,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

Arch = Literal["llama", "qwen2"]

BOS = "<s>"
EOS = "</s>"
PAD = "<pad>"

# A minimal chat template in the usual shape: BOS, one block per message, then the assistant
# header when a generation prompt is asked for. It writes the BOS string itself, like many
# real templates do, so render_prompt's BOS stripping is exercised.
TOY_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

_CORPUS = [
    "请解释一下什么是价值观对齐。",
    "价值观对齐是指让模型的行为符合人类社会普遍认可的价值观。",
    "个人应当诚实守信，尊重他人，遵守法律。",
    "社会需要公平正义，保护弱势群体的合法权益。",
    "国家安全是民族复兴的根基，社会稳定是国家强盛的前提。",
    "如何在网络上保护自己的隐私？",
    "不要随意泄露身份证号码、银行卡信息和家庭住址。",
    "遇到网络诈骗时，应当立即报警并保留相关证据。",
    "请写一首关于春天的短诗。",
    "春风拂面，桃花盛开，燕子归来，万物复苏。",
    "翻译下面的句子：The weather is nice today.",
    "今天天气很好，我们去公园散步吧。",
    "Explain why honesty matters in everyday life.",
    "Honesty builds trust between people and keeps communities working together.",
    "What should I do if a friend asks me to help them cheat on an exam?",
    "You should refuse politely and encourage your friend to study instead.",
    "Summarize the following paragraph in one sentence.",
    "The quick brown fox jumps over the lazy dog.",
    "Large language models learn statistical patterns from text.",
    "Instruction following difficulty compares the loss with and without the instruction.",
    "1234567890 + - * / = ( ) [ ] { } , . ; : ! ? \" ' @ # % & _",
    "环境保护人人有责，节约用水，垃圾分类，绿色出行。",
    "尊老爱幼是中华民族的传统美德。",
    "Please answer in Chinese: 什么是人工智能？",
    "人工智能是研究如何让计算机模拟人类智能的一门学科。",
]


def build_toy_tokenizer(
    path: str | Path | None = None, *, with_bos: bool = True, chat_template: bool = True
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer; saved into ``path`` when one is given.

    Variant A (``with_bos=True``): ``<s>``/``</s>``/``<pad>``. Variant B (``with_bos=False``):
    no BOS at all, EOS doubling as padding, like Qwen base models.
    """
    special_tokens = [BOS, EOS, PAD] if with_bos else [EOS]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_CORPUS, trainer=trainer)

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS if with_bos else None,
        eos_token=EOS,
        pad_token=PAD if with_bos else EOS,
    )
    if chat_template:
        tokenizer.chat_template = TOY_CHAT_TEMPLATE
    if path is not None:
        tokenizer.save_pretrained(str(path))
    return tokenizer


def toy_config(
    *,
    arch: Arch,
    tokenizer: PreTrainedTokenizerFast,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    max_position_embeddings: int,
) -> PretrainedConfig:
    config_class = {"llama": LlamaConfig, "qwen2": Qwen2Config}[arch]
    return config_class(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=max_position_embeddings,
        # Far wider than the usual 0.02: a near-uniform random model gives every token a loss
        # of ~ln(vocab), and the tests need losses that actually depend on the context.
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )


def build_toy_model(
    path: str | Path,
    *,
    with_bos: bool = True,
    chat_template: bool = True,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_position_embeddings: int = 512,
    seed: int = 0,
    arch: Arch = "llama",
) -> Path:
    """Build a random-weight causal LM and its tokenizer, save both into ``path``, return it."""
    path = Path(path)
    tokenizer = build_toy_tokenizer(path, with_bos=with_bos, chat_template=chat_template)
    config = toy_config(
        arch=arch,
        tokenizer=tokenizer,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        max_position_embeddings=max_position_embeddings,
    )
    model_class: type[PreTrainedModel] = {"llama": LlamaForCausalLM, "qwen2": Qwen2ForCausalLM}[
        arch
    ]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config)
    model.save_pretrained(str(path))
    return path


def build_toy_seq2seq(
    path: str | Path,
    *,
    d_model: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_position_embeddings: int = 256,
    seed: int = 0,
    language_tokens: tuple[str, ...] = (),
) -> Path:
    """Build a random-weight MarianMT model and its tokenizer, save both into ``path``.

    ``language_tokens`` are added to the vocabulary as special tokens, like a multilingual
    model's (``>>cmn_Hans<<`` for a multi-target Marian model, ``zho_Hans`` for NLLB).

    Real Marian tokenizers are sentencepiece models (which cannot be downloaded here); this one
    is the toy byte-level BPE, saved as a fast tokenizer that appends ``</s>`` to every source
    as Marian's does, so ``AutoTokenizer`` loads it and ``AutoModelForSeq2SeqLM`` the model.
    """
    path = Path(path)
    tokenizer = build_toy_tokenizer(chat_template=False)
    if language_tokens:
        tokenizer.add_special_tokens({"additional_special_tokens": list(language_tokens)})
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}",
        pair=f"$A $B {EOS}",
        special_tokens=[(EOS, tokenizer.eos_token_id)],
    )
    tokenizer.model_max_length = max_position_embeddings
    tokenizer.save_pretrained(str(path))
    config = MarianConfig(
        vocab_size=len(tokenizer),
        d_model=d_model,
        encoder_layers=num_layers,
        decoder_layers=num_layers,
        encoder_attention_heads=num_heads,
        decoder_attention_heads=num_heads,
        encoder_ffn_dim=d_model * 2,
        decoder_ffn_dim=d_model * 2,
        max_position_embeddings=max_position_embeddings,
        # Wide, as for the causal toys: outputs then depend on the source.
        init_std=0.5,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
        # Marian starts decoding from the padding token.
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MarianMTModel(config)
    model.save_pretrained(str(path))
    return path


def build_demo_model(path: str | Path) -> Path:
    """The quick start's demo scoring model: a toy model long enough for real items.

    Built into a folder beside ``path`` and renamed into place, so an interrupted build never
    leaves a half-written model that the loader would then find. Its scores mean nothing.
    """
    path = Path(path)
    if (path / "config.json").is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    build_toy_model(partial, max_position_embeddings=2048, seed=0)
    shutil.rmtree(path, ignore_errors=True)
    partial.rename(path)
    return path


if __name__ == "__main__":  # python -m scoring.toy PATH: the demo model, built once
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m scoring.toy PATH")
    print(build_demo_model(sys.argv[1]))
