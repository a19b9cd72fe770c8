"""Every page carries a Content-Security-Policy that forbids inline script, and our pages
need none; errors shown to people are translated and free of database internals."""

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.utils import translation
from django.views.defaults import bad_request, server_error

from annotation.models import Item, Status
from tests.factories import make_item, make_user

pytestmark = pytest.mark.django_db


class _Scripts(HTMLParser):
    """Collects inline scripts and inline event handlers (onclick=..., onchange=...)."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        handlers = [name for name in attrs if name.startswith("on")]
        if handlers:
            self.inline.append(f"<{tag} {handlers[0]}=...>")
        if tag == "script" and not attrs.get("src"):
            self._in_inline_script = True
        if any((value or "").strip().lower().startswith("javascript:") for value in attrs.values()):
            self.inline.append(f"<{tag} ...javascript:...>")

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.inline.append(f"<script>{data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False


def inline_scripts(html: str) -> list[str]:
    parser = _Scripts()
    parser.feed(html)
    return parser.inline


def script_src(policy: str) -> str:
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return directives.get("script-src", directives.get("default-src", ""))


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(make_user(role="admin", username="root"))
    return client


@pytest.fixture
def reviewer_client() -> Client:
    client = Client()
    client.force_login(make_user(role="reviewer", username="rev"))
    return client


OUR_PAGES = ["/", "/accounts/login/", "/no-such-page/", "/api/v1/docs/"]


@pytest.mark.parametrize("url", [*OUR_PAGES, "/admin/", "/healthz", "/api/v1/items/"])
def test_every_page_has_a_content_security_policy_without_inline_script(admin_client, url):
    response = admin_client.get(url)
    policy = response["Content-Security-Policy"]
    assert "'self'" in script_src(policy)
    assert "unsafe-inline" not in script_src(policy)
    assert "unsafe-eval" not in script_src(policy)
    assert "frame-ancestors 'none'" in policy


def test_the_login_page_has_the_policy_for_anonymous_visitors():
    assert "script-src 'self'" in Client().get("/accounts/login/")["Content-Security-Policy"]


@pytest.mark.parametrize("url", OUR_PAGES)
def test_our_pages_have_no_inline_scripts(admin_client, url):
    make_item(status=Status.IN_REVIEW)
    html = admin_client.get(url).content.decode()
    assert "<script" in html or url != "/"  # the dashboard does load scripts (htmx)
    assert inline_scripts(html) == []


def our_templates() -> list[Path]:
    base = Path(settings.BASE_DIR)
    folders = [base / "templates", *base.glob("*/templates")]
    return sorted(p for folder in folders for p in folder.rglob("*.html") if ".venv" not in p.parts)


def test_the_templates_are_found():
    assert Path(settings.BASE_DIR) / "templates" / "base.html" in our_templates()


@pytest.mark.parametrize("template", our_templates(), ids=lambda p: p.name)
def test_no_template_of_ours_has_an_inline_script(template):
    # Pages other tests never render are covered too: the policy would block such a script.
    assert inline_scripts(template.read_text("utf-8")) == []


def test_the_login_and_logged_out_pages_have_no_inline_scripts(reviewer_client):
    assert inline_scripts(Client().get("/accounts/login/").content.decode()) == []
    response = reviewer_client.post("/accounts/logout/", follow=True)
    assert inline_scripts(response.content.decode()) == []


def test_the_api_docs_load_their_setup_script_from_a_url(admin_client):
    html = admin_client.get("/api/v1/docs/").content.decode()
    assert inline_scripts(html) == []
    script = admin_client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


# Error pages when DEBUG is off (as in tests).


def test_a_missing_page_is_a_friendly_translated_404(reviewer_client):
    response = reviewer_client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "页面不存在" in html and "Not Found" not in html
    english = Client(headers={"accept-language": "en"}).get("/no-such-page/")
    assert "Page not found" in english.content.decode()


def test_a_refused_page_is_a_friendly_translated_403():
    outsider = make_user(role="reviewer", username="outsider")
    outsider.groups.clear()
    client = Client()
    client.force_login(outsider)
    response = client.get("/")
    assert response.status_code == 403
    assert "没有权限" in response.content.decode()


def test_a_server_error_is_a_friendly_translated_500():
    request = RequestFactory().get("/")
    with translation.override("zh-hans"):
        response = server_error(request)
    assert response.status_code == 500
    html = response.content.decode()
    assert "服务器出错" in html and "Server Error" not in html
    assert inline_scripts(html) == []


def test_a_bad_request_is_a_friendly_translated_400():
    request = RequestFactory().get("/")
    with translation.override("zh-hans"):
        response = bad_request(request, exception=None)
    assert response.status_code == 400
    assert "请求有误" in response.content.decode()


# Constraint violations read as people's words, in their language.


def test_accepting_without_a_category_names_the_rule_not_the_constraint():
    item = make_item(status=Status.IN_REVIEW)
    item.status, item.categorization = Status.ACCEPTED, ""
    for language, expected in (("en", "category"), ("zh-hans", "类别")):
        with translation.override(language), pytest.raises(ValidationError) as caught:
            item.full_clean()
        text = " ".join(caught.value.messages)
        assert expected in text, text
        assert "item_accepted_is_classified" not in text
        assert "Constraint" not in text


@pytest.mark.parametrize(
    ("changes", "word"),
    [({"instruction": ""}, "instruction"), ({"ifd": -1.0}, "IFD")],
)
def test_other_item_rules_read_as_words_too(changes, word):
    item = make_item()
    for name, value in changes.items():
        setattr(item, name, value)
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        item.full_clean()
    text = str(caught.value.message_dict)
    assert word in text and "Constraint" not in text, text


def test_a_valid_item_still_passes_full_clean():
    Item.full_clean(make_item(status=Status.ACCEPTED, categorization="nation"))


def test_an_accepted_item_without_a_category_is_explained_in_words():
    """The admin is read-only now (services are the only writers), so the constraint's message
    is checked where forms and services meet it: model validation, in the page's language."""
    item = make_item(status=Status.IN_REVIEW)
    item.status, item.categorization = Status.ACCEPTED, ""
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        item.validate_constraints()
    text = " ".join(refused.value.messages)
    assert "item_accepted_is_classified" not in text
    assert "通过的条目必须有类别" in text
