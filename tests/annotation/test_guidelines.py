import pytest
from django.core.exceptions import ValidationError

from annotation import selectors
from annotation.guidelines import DEFAULT_GUIDELINES, guideline_blocks
from annotation.models import Guideline
from annotation.services import guideline_update
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_the_text_is_cut_into_headings_lists_and_paragraphs():
    blocks = guideline_blocks("# 个人\n说明\n- 例一\n- 例二\n\n# 社会\n")
    assert [(b.kind, b.text, b.entries) for b in blocks] == [
        ("heading", "个人", []),
        ("paragraph", "说明", []),
        ("list", "", ["例一", "例二"]),
        ("heading", "社会", []),
    ]


def test_an_admin_replaces_the_guidelines_of_one_language():
    admin = make_user(role="admin")
    guideline_update(language="en", body="# New\ntext", user=admin)
    stored = Guideline.objects.get(language="en")
    assert (stored.body, stored.updated_by) == ("# New\ntext", admin)
    assert selectors.guideline_for_language(language="en").body == "# New\ntext"


def test_empty_text_and_unknown_languages_are_refused_and_nothing_changes():
    admin = make_user(role="admin")
    before = selectors.guideline_for_language(language="zh-hans").body
    with pytest.raises(ValidationError):
        guideline_update(language="zh-hans", body="   ", user=admin)
    with pytest.raises(ValidationError):
        guideline_update(language="fr", body="# Bonjour", user=admin)
    assert selectors.guideline_for_language(language="zh-hans").body == before
    assert not Guideline.objects.filter(language="fr").exists()


def test_without_rows_the_shipped_text_is_served():
    Guideline.objects.all().delete()
    assert selectors.guideline_for_language(language="en").body == DEFAULT_GUIDELINES["en"]
    assert selectors.guideline_for_language(language="de").body == DEFAULT_GUIDELINES["zh-hans"]
