"""Evol-Instruct operations, prompts and elimination rules (plain Python, no model)."""

import pytest

from scoring.evolution import (
    ALL_OPS,
    ALL_RULES,
    FLAG_JUDGE_UNPARSED,
    RULE_NO_GAIN,
    RULE_SHORT_REFUSAL,
    RULE_STOPWORDS_ONLY,
    RULE_TEMPLATE_COPY,
    choose_ops,
    copies_template,
    eliminate,
    evolve_prompt,
    is_short_refusal,
    is_stopwords_only,
    parse_ops,
    parse_rules,
    parse_verdict,
)


def test_ops_parse_in_order_and_unknown_ones_are_named():
    assert parse_ops("deepen, breadth,deepen") == ("deepen", "breadth")
    with pytest.raises(ValueError, match="'widen'"):
        parse_ops("deepen,widen")
    with pytest.raises(ValueError):
        parse_ops("")
    assert parse_rules("template_copy") == ("template_copy",)
    with pytest.raises(ValueError, match="'sorry'"):
        parse_rules("sorry")


def test_op_choice_is_deterministic_per_parent_and_round_and_spreads_over_ops():
    picks = [choose_ops(parent_id=p, round=1, ops=ALL_OPS) for p in range(200)]
    assert picks == [choose_ops(parent_id=p, round=1, ops=ALL_OPS) for p in range(200)]
    assert all(len(p) == 1 for p in picks)
    assert {p[0] for p in picks} == set(ALL_OPS)
    assert any(
        choose_ops(parent_id=p, round=1, ops=ALL_OPS)
        != choose_ops(parent_id=p, round=2, ops=ALL_OPS)
        for p in range(20)
    )
    assert choose_ops(parent_id=5, round=1, ops=("deepen", "breadth"), all_ops=True) == [
        "deepen",
        "breadth",
    ]


def test_prompts_hold_the_instruction_the_method_and_the_reference_answer():
    depth = evolve_prompt(
        op="constraints", instruction="如何看待诚信？", reference_output="诚信是立身之本。"
    )
    assert "如何看待诚信？" in depth and "约束" in depth and "诚信是立身之本。" in depth
    assert depth.rstrip().endswith("#改写后的指令#：")
    breadth = evolve_prompt(op="breadth", instruction="如何看待诚信？", domain="职场")
    assert "（职场）" in breadth and breadth.rstrip().endswith("#新指令#：")
    assert "参考回答" not in breadth
    assert len({evolve_prompt(op=op, instruction="x") for op in ALL_OPS}) == 5
    with pytest.raises(ValueError):
        evolve_prompt(op="widen", instruction="x")


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("不同", True),
        ("不相同。", True),
        ("Not Equal", True),
        ("相同", False),
        ("两条指令相同", False),
        ("Equal.", False),
        ("<think>想一想</think>不同", True),
        ("我认为它们有相同之处也有不同之处", None),
        ("第二条更难", None),
        ("", None),
    ],
)
def test_judge_verdicts_parse_and_ambiguous_ones_are_none(text, verdict):
    assert parse_verdict(text) is verdict


GUIDED_REFUSAL = (
    "抱歉，我不能帮你曝光同事的隐私，这可能侵犯他人权益甚至违法。"
    "建议你先与同事坦诚沟通，必要时向上级反映，并保留好工作记录。"
)


def test_short_refusal_rule_removes_a_bare_refusal_but_not_a_refusal_with_guidance():
    assert is_short_refusal("抱歉，我无法回答这个问题。")
    assert is_short_refusal("Sorry, I can't do that.")
    assert not is_short_refusal(GUIDED_REFUSAL)
    assert not is_short_refusal("诚信是立身之本，做人要言行一致。")  # short, no refusal
    long_refusal = (
        "抱歉，我不能回答。" + "这个问题涉及复杂的伦理与法律考量，需要结合具体情况分析。" * 5
    )
    assert not is_short_refusal(long_refusal)  # not short


def test_stopwords_rule_removes_an_empty_reply_not_a_short_real_one():
    assert is_stopwords_only("好的。")
    assert is_stopwords_only("是的！！……")
    assert is_stopwords_only("OK, yes.")
    assert not is_stopwords_only("是的，诚信很重要。")
    assert not is_stopwords_only("好的，我们先谈谈公平。")


def test_template_copy_rule_catches_the_prompts_own_words_not_ordinary_ones():
    assert copies_template("#改写后的指令#：如何看待诚信？")
    assert copies_template("请根据给定指令回答")
    assert copies_template("#Rewritten Prompt#: How to be honest?")
    assert not copies_template("请给出一条关于诚信的建议，并说明理由。")
    assert not copies_template("公司发布了新的规定，员工该如何看待？")


def test_eliminate_applies_the_first_switched_on_rule_and_flags_unparsed_verdicts():
    ok = {"instruction": "在职场中如何坚持诚信？", "answer": GUIDED_REFUSAL}
    assert eliminate(**ok, verdict=True).rule is None
    assert eliminate(**ok, verdict=False).rule == RULE_NO_GAIN
    assert eliminate(**ok, verdict=False, rules=[RULE_SHORT_REFUSAL]).rule is None
    unparsed = eliminate(**ok, verdict=None)
    assert (unparsed.rule, unparsed.flags) == (None, (FLAG_JUDGE_UNPARSED,))
    assert eliminate(**ok, verdict=None, rules=[]).flags == ()
    copied = {"instruction": "#新指令#：如何坚持诚信？", "answer": "好的。"}
    assert eliminate(**copied, verdict=False).rule == RULE_TEMPLATE_COPY
    assert (
        eliminate(**copied, verdict=False, rules=[RULE_STOPWORDS_ONLY]).rule == RULE_STOPWORDS_ONLY
    )
    refusal = {"instruction": "如何坚持诚信？", "answer": "抱歉，我无法回答。"}
    assert eliminate(**refusal, verdict=True).rule == RULE_SHORT_REFUSAL
    assert set(ALL_RULES) == {
        RULE_NO_GAIN,
        RULE_SHORT_REFUSAL,
        RULE_STOPWORDS_ONLY,
        RULE_TEMPLATE_COPY,
    }
