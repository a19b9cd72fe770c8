from annotation.textdiff import KEEP_CONTEXT, Segment, field_diffs, text_diff


def test_chinese_is_compared_character_by_character():
    assert text_diff("诚信是立身之本", "诚信是做人之本") == [
        Segment("equal", "诚信是"),
        Segment("delete", "立身"),
        Segment("insert", "做人"),
        Segment("equal", "之本"),
    ]


def test_english_words_change_whole():
    segments = text_diff("the quick fox", "the slow fox")
    assert Segment("delete", "quick") in segments and Segment("insert", "slow") in segments


def test_long_unchanged_stretches_are_shortened_to_their_ends():
    old = "甲" * 1000 + "乙"
    segments = text_diff(old, "甲" * 1000 + "丙")
    assert segments[0] == Segment("equal", "甲" * KEEP_CONTEXT)
    assert segments[1] == Segment("skip", skipped=1000 - 2 * KEEP_CONTEXT)
    assert [s.op for s in segments[-2:]] == ["delete", "insert"]


def test_field_diffs_list_only_changed_fields():
    old = {"instruction": "问", "output": "答"}
    assert [f for f, _ in field_diffs(old, {"instruction": "问", "output": "新答"})] == ["output"]
