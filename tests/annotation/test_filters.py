import pytest

from annotation.filters import search_text
from annotation.models import Item, Status
from tests.factories import make_item

pytestmark = pytest.mark.django_db

TEXTS = [
    ("如何处理医疗废物？", "", "Medical waste must go to a licensed service."),
    ("Dispose of WASTE safely", "100% recycled", "使用 snake_case 命名"),
    ("请谈谈诚信", "同桌抄答案", "诚信是立身之本"),
    ("无关的问题", "", "无关的回答 50%_off"),
]
QUERIES = ["waste", "WASTE", "诚信", "同桌", "100%", "snake_case", "%_", "_", "50%_off", "不存在"]


@pytest.fixture
def items() -> list[Item]:
    statuses = [Status.PENDING_TRANSLATION, Status.CANDIDATE, Status.IN_REVIEW, Status.ACCEPTED]
    return [
        make_item(instruction=i, input=x, output=o, status=s, categorization="person")
        for (i, x, o), s in zip(TEXTS, statuses, strict=True)
    ]


@pytest.mark.parametrize("query", QUERIES)
def test_text_search_finds_exactly_the_items_containing_the_text(items, query):
    expected = {
        item.pk
        for item in items
        if any(
            query.lower() in field.lower() for field in (item.instruction, item.input, item.output)
        )
    }
    found = set(search_text(Item.objects.all(), query).values_list("pk", flat=True))
    assert found == expected


def test_text_search_never_matches_across_field_boundaries(items):
    # "safely" ends one item's instruction and "100%" starts its input: joined, they must not match.
    assert not search_text(Item.objects.all(), "safely100%").exists()
