"""Segmentation, OpenCC normalisation and the translation flags (plain Python, no model)."""

import pytest

from scoring.translation import (
    FLAG_EMPTY,
    FLAG_LENGTH_RATIO,
    FLAG_REPETITION,
    FLAG_UNTRANSLATED_LATIN,
    TranslationThresholds,
    clean_chat_translation,
    segment_text,
    to_simplified,
    translation_flags,
    translation_messages,
)

ANSWER = """I can't help with that. Mr. Lee, a teacher in the U.S., says honesty matters!

Here is what you can do instead:
1. Talk to your friend. Explain why cheating hurts them.
2. Offer to study together, e.g. on weekends.
  - Make a plan? Stick to it.
* Ask a teacher for help.

Good luck.  """


def test_segmentation_keeps_every_sentence_and_the_layout():
    seg = segment_text(ANSWER)
    assert seg.rejoin(seg.sentences) == ANSWER
    assert seg.sentences == (
        "I can't help with that.",
        "Mr. Lee, a teacher in the U.S., says honesty matters!",
        "Here is what you can do instead:",
        "Talk to your friend.",
        "Explain why cheating hurts them.",
        "Offer to study together, e.g. on weekends.",
        "Make a plan?",
        "Stick to it.",
        "Ask a teacher for help.",
        "Good luck.",
    )


def test_rejoined_chinese_keeps_lines_and_list_markers_without_spaces_between_sentences():
    seg = segment_text(ANSWER)
    zh = seg.rejoin([f"第{n}句。" for n in range(len(seg.sentences))])
    assert zh == (
        "第0句。第1句。\n\n第2句。\n1. 第3句。第4句。\n2. 第5句。\n  - 第6句。第7句。\n"
        "* 第8句。\n\n第9句。  "
    )


def test_an_overlong_sentence_is_cut_into_pieces_that_fit_and_lose_nothing():
    text = "This sentence, which never ends, " + "goes on and on " * 60 + "until here."
    seg = segment_text(text, max_chars=120)
    assert len(seg.sentences) > 1
    assert all(len(s) <= 120 for s in seg.sentences)
    assert seg.rejoin(seg.sentences) == text


def test_rejoin_needs_one_translation_per_sentence():
    seg = segment_text("One. Two.")
    with pytest.raises(ValueError):
        seg.rejoin(["一。"])


def test_opencc_turns_traditional_into_simplified():
    assert to_simplified("這個問題很難，請幫我翻譯，謝謝。") == "这个问题很难，请帮我翻译，谢谢。"
    assert to_simplified("已经是简体 and English") == "已经是简体 and English"


def test_chat_prompt_holds_the_text_and_labels_are_cleaned():
    [message] = translation_messages("Hello.")
    assert message["role"] == "user" and message["content"].endswith("\n\nHello.")
    assert clean_chat_translation("<think>嗯</think>\n译文：你好。") == "你好。"
    assert clean_chat_translation("翻译得很好。") == "翻译得很好。"


TH = TranslationThresholds()
SOURCE = "Honesty builds trust between people and keeps communities working together."


def flags(source, translation):
    return translation_flags(source, translation, thresholds=TH)[0]


def test_a_fair_translation_earns_no_flag():
    assert flags(SOURCE, "诚实在人与人之间建立信任，让社区得以齐心协力地运转。") == []


def test_length_ratio_flags_a_truncated_translation_not_a_short_source():
    assert flags(SOURCE, "诚实。") == [FLAG_LENGTH_RATIO]
    assert flags("Thanks.", "谢。") == []  # too short a source to judge
    padded = (
        "诚实在人与人之间建立信任，让社区得以齐心协力地运转。古人说人无信不立，"
        "一个守信的人会赢得朋友的尊重；一个讲诚信的企业会赢得顾客的长期支持；"
        "一个重视信用的社会，交易成本更低，合作更顺畅，公共生活也更加安定有序。"
    )
    assert flags(SOURCE, padded) == [FLAG_LENGTH_RATIO]  # far longer than its source


def test_repetition_flags_a_phrase_looping_not_a_word_said_twice():
    assert flags(SOURCE, "诚实建立信任。" + "我不知道" * 4) == [FLAG_REPETITION]
    assert flags(SOURCE, "诚实建立信任，信任建立社区，我不知道我不知道。") == []


def test_untranslated_latin_flags_an_english_sentence_not_names():
    assert flags(SOURCE, "诚实建立信任。It keeps communities working together for years.") == [
        FLAG_UNTRANSLATED_LATIN
    ]
    assert (
        flags(
            SOURCE,
            "诚实在 New York City 与 iPhone 用户之间建立信任，见 https://example.org/a/b/c/d/e/f",
        )
        == []
    )


def test_empty_translation_is_flagged_empty_only():
    assert flags(SOURCE, "  \n") == [FLAG_EMPTY]
    assert flags("", "") == []
