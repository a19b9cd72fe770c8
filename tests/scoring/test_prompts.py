from __future__ import annotations

import pytest

from scoring.prompts import render_prompt
from scoring.toy import build_toy_tokenizer


@pytest.fixture(scope="module")
def plain_tokenizer():
    return build_toy_tokenizer(None, with_bos=False, chat_template=False)


@pytest.fixture(scope="module")
def chat_tokenizer():
    return build_toy_tokenizer(None, with_bos=True, chat_template=True)


def test_without_a_template_an_empty_input_gives_instruction_and_blank_line(plain_tokenizer):
    assert render_prompt(plain_tokenizer, "什么是诚信？", "") == "什么是诚信？\n\n"


def test_without_a_template_the_input_follows_after_a_blank_line(plain_tokenizer):
    assert (
        render_prompt(plain_tokenizer, "翻译成中文", "Honesty matters.")
        == "翻译成中文\n\nHonesty matters.\n\n"
    )


def test_with_a_template_the_single_user_message_carries_instruction_and_input(chat_tokenizer):
    assert (
        render_prompt(chat_tokenizer, "翻译成中文", "Honesty matters.")
        == "<|user|>\n翻译成中文\n\nHonesty matters.</s>\n<|assistant|>\n"
    )


def test_with_a_template_and_no_input_the_message_is_the_instruction(chat_tokenizer):
    assert (
        render_prompt(chat_tokenizer, "什么是诚信？", "")
        == "<|user|>\n什么是诚信？</s>\n<|assistant|>\n"
    )


def test_with_a_template_there_is_no_leading_bos_and_no_system_message(chat_tokenizer):
    rendered = render_prompt(chat_tokenizer, "问题", "")
    assert not rendered.startswith("<s>")
    assert "<|system|>" not in rendered
    assert rendered.endswith("<|assistant|>\n")  # the generation prompt


def test_a_system_message_forced_by_the_template_is_kept(chat_tokenizer):
    tokenizer = build_toy_tokenizer(None, with_bos=True, chat_template=True)
    tokenizer.chat_template = "<|system|>\n你是一个助手。\n" + tokenizer.chat_template
    assert render_prompt(tokenizer, "问题", "") == (
        "<|system|>\n你是一个助手。\n<s><|user|>\n问题</s>\n<|assistant|>\n"
    )
