"""Errors on the pipeline panel speak the page's language (Chinese by default)."""

import pytest
from django.test import Client

from annotation.models import Job
from tests.factories import make_user

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _admin() -> Client:
    client = Client()
    client.force_login(make_user(role="admin", username="panel-admin"))
    return client


def test_a_missing_scoring_model_is_explained_in_chinese_on_the_chinese_page(settings):
    settings.VAD_IFD_MODEL = ""
    html = _admin().post("/pipeline/score/", {}, **HTMX).content.decode()
    assert "没有评分模型" in html and "VAD_IFD_MODEL" in html
    assert "no scoring model" not in html
    assert Job.objects.count() == 0


def test_the_same_error_is_english_on_the_english_page(settings):
    settings.VAD_IFD_MODEL = ""
    client = _admin()
    html = client.post("/pipeline/score/", {}, HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert "no scoring model" in html.content.decode()


@pytest.mark.parametrize(
    ("url", "setting", "chinese", "english"),
    [
        ("/pipeline/translate/", "VAD_TRANSLATE_MODEL", "没有翻译模型", "no translation model"),
        ("/pipeline/evolve/", "VAD_EVOLVE_MODEL", "没有演化模型", "no evolution model"),
    ],
)
def test_a_missing_generation_model_is_explained_in_the_page_s_language(
    settings, url, setting, chinese, english
):
    setattr(settings, setting, "")
    client = _admin()
    form = {"rounds": 1, "ops": ["deepen"]}
    html = client.post(url, form, **HTMX).content.decode()
    assert chinese in html and setting in html and english not in html
    html = client.post(url, form, HTTP_ACCEPT_LANGUAGE="en", **HTMX).content.decode()
    assert english in html and chinese not in html
    assert Job.objects.count() == 0
