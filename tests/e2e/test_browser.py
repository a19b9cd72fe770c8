"""The pages in a real browser: Debian's Chromium driven by Playwright against a live server.

What the Django test client cannot show: the login form's CSRF token round trip in a
browser, htmx actually loaded from our static files, Chinese glyphs drawn with a real font,
and the language menu switching on its own (it submits on change, by script).
"""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotation.models import Status
from tests.factories import make_item, make_user

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "browser-pw-123"

# Two different characters drawn on a canvas: with a CJK font they differ, as missing-glyph
# boxes they are the same pixels.
_GLYPHS_DIFFER = """() => {
  const draw = (text) => {
    const canvas = document.createElement("canvas");
    canvas.width = 40; canvas.height = 40;
    const context = canvas.getContext("2d");
    context.font = "32px sans-serif";
    context.fillText(text, 2, 32);
    return canvas.toDataURL();
  };
  return draw("概") !== draw("览");
}"""


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _log_in(page, live_server, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_a_reviewer_logs_in_reads_the_dashboard_switches_language_and_logs_out(page, live_server):
    make_user(role="reviewer", username="lin", password=PASSWORD)
    for status in (Status.ACCEPTED, Status.ACCEPTED, Status.IN_REVIEW):
        make_item(status=status, categorization="social")

    _log_in(page, live_server, "lin")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "概览"
    assert page.locator('td[data-status="accepted"]').inner_text() == "2"
    assert page.locator('td[data-status="in_review"]').inner_text() == "1"
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate(_GLYPHS_DIFFER), "Chinese is drawn as missing-glyph boxes"
    assert "最近任务" not in page.content()  # jobs are for admins

    page.select_option("select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator("#item-counts h2").first.inner_text() == "Items by status"

    page.click("text=Log out")
    page.wait_for_url("**/accounts/login/")
    assert page.locator("h1").inner_text() == "Log in"  # the language choice outlives the session
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url


def test_a_wrong_password_keeps_the_login_page_with_an_error(page, live_server):
    make_user(role="reviewer", username="wang", password=PASSWORD)
    _log_in(page, live_server, "wang", password="not-the-password")
    page.wait_for_selector("p.error")
    assert "用户名或密码不正确" in page.locator("p.error").inner_text()
    assert "/accounts/login/" in page.url


def test_user_text_is_shown_as_text_not_markup(page, live_server):
    # create_user and the admin now refuse such a name; one made before that rule (straight
    # through the ORM, as here) must still be shown as text.
    get_user_model().objects.create_user(
        username="<b>zhao</b>", password=PASSWORD, is_staff=True, is_superuser=True
    )
    _log_in(page, live_server, "<b>zhao</b>")
    page.wait_for_selector("span.who")
    assert page.locator("span.who").inner_text() == "<b>zhao</b>"
    assert page.locator("span.who b").count() == 0
    assert "最近任务" in page.content()


def test_an_admin_starts_a_filter_job_from_the_panel_and_watches_it_finish(page, live_server):
    make_user(role="admin", username="chen", password=PASSWORD)
    make_item(status=Status.SCORED, ifd=0.4, ifd_model="toy")
    make_item(status=Status.SCORED, ifd=1.3, ifd_model="toy")
    _log_in(page, live_server, "chen")
    page.wait_for_selector("#filter-form")
    assert page.locator("#pipeline h2").inner_text() == "处理流程"

    # A fraction above 1 is refused in place: no reload, no job.
    page.check("#filter-form input[value=keep_top]")
    page.fill("#filter-form input[name=value]", "1.5")
    page.click("#filter-form button[type=submit]")
    page.wait_for_selector("#filter-form .errorlist")
    assert page.locator("tr[data-job]").count() == 0

    page.check("#filter-form input[value=drop_only]")
    page.click("#filter-form button[type=submit]")
    page.wait_for_selector("#pipeline .notice")
    # The job table reloads itself when the panel says a job has started.
    status = page.locator("tr[data-job] td[data-job-status]")
    status.wait_for()
    assert status.get_attribute("data-job-status") == "succeeded"
    # So do the counts: one item went to review, one was filtered out.
    expect(page.locator('td[data-status="in_review"]')).to_have_text("1")
    assert page.locator('td[data-status="filtered_out"]').inner_text() == "1"


def _csp_violations(page) -> list[str]:
    """Console messages of the Content-Security-Policy refusing something, as they come."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


def test_the_pages_and_the_api_docs_work_under_the_content_security_policy(page, live_server):
    violations = _csp_violations(page)
    make_user(role="admin", username="csp-admin", password=PASSWORD)
    _log_in(page, live_server, "csp-admin")
    page.wait_for_url(f"{live_server.url}/")
    assert page.evaluate("typeof window.htmx") == "object"
    page.select_option("select[name=language]", "en")  # app.js, not an inline handler
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "VAD Review API" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".swagger-ui .opblock")  # the operations, read from the schema
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("#site-name")
    # DRF's browsable pages: their inline styles are allowed there, nothing else is.
    page.goto(f"{live_server.url}/api/v1/items/")
    page.wait_for_load_state("networkidle")
    assert page.locator(".page-header h1").inner_text().strip()
    assert page.locator("#content .response-info").count() == 1
    assert violations == []
