"""Render an (instruction, input) pair into the prompt text ``p`` IFD conditions on (SPEC §4)."""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase


def user_message(instruction: str, input: str) -> str:
    """The one user turn: the instruction, then the input after a blank line when there is one."""
    return f"{instruction}\n\n{input}" if input else instruction


def render_prompt(tokenizer: PreTrainedTokenizerBase, instruction: str, input: str) -> str:
    """The prompt text for ``instruction`` and ``input``, ready to be followed by the answer.

    With a chat template: a single user message and the generation prompt, without a leading
    BOS string (the scorer puts the BOS token in front itself, and a second one would change
    the scores). Without one: the plain layout SPEC §4 fixes.
    """
    if not tokenizer.chat_template:
        return f"{instruction}\n\n{input}\n\n" if input else f"{instruction}\n\n"

    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": user_message(instruction, input)}],
        add_generation_prompt=True,
        tokenize=False,
    )
    bos = tokenizer.bos_token
    if bos and text.startswith(bos):
        text = text[len(bos) :]
    return text
