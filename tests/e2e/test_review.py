"""The review workspace in a real browser (Chromium, headless) against a live server on
PostgreSQL: a reviewer works through the queue with the keyboard only, edits with the diff
shown, meets and resolves an edit conflict made from a second browser, undoes, and switches
language; the database is checked after each step."""

import os

import pytest
from playwright.sync_api import expect

from annotation.models import Item, ItemRevision, Source, Status
from tests.e2e.test_browser import PASSWORD
from tests.factories import make_item, make_user

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = os.environ.get("VAD_SCREENSHOT_DIR", "/tmp")


# The policy another part of the project adds: no inline script of any kind. Served here on
# every page the browser loads, so an inline <script> or on*= handler would fail the test.
CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'"


def _with_csp(route):
    response = route.fetch(max_redirects=0)
    headers = {**response.headers, "content-security-policy": CSP}
    route.fulfill(response=response, headers=headers)


def _page(browser, violations=None):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
    context.route("**/*", _with_csp)
    page = context.new_page()
    page.set_default_timeout(10_000)
    if violations is not None:
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text
                and violations.append(f"{message.text} ({message.location})")
            ),
        )
    return context, page


def _screenshot(page, path: str, *, full_page: bool = False) -> None:
    """A screenshot that leaves the page as it was. Playwright hides the caret by giving every
    input style="caret-color: transparent" and leaves style="" behind; htmx's next settle
    copies that attribute onto the swapped-in input, which the policy reports as inline style."""
    page.screenshot(path=path, full_page=full_page, caret="initial")


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/review/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/review/")


def _shown(page) -> str:
    return page.locator("#item-panel > [data-mode]").get_attribute("data-item-id") or ""


def _wait_for_item(page, item_id: int) -> None:
    # A locator, not wait_for_function: evaluating a string needs 'unsafe-eval', which the
    # pages' Content-Security-Policy refuses.
    page.locator(f'#item-panel > [data-mode][data-item-id="{item_id}"]').wait_for()


def _translated(ifd: float, n: int) -> Item:
    return make_item(
        status=Status.IN_REVIEW,
        source=Source.TRANSLATED,
        ifd=ifd,
        ifd_ppl=ifd * 1.5,
        ifd_model="toy",
        instruction=f"如何看待网络暴力？（{n}）",
        output=f"网络暴力会伤害他人，应当抵制。（{n}）",
        flags=["length_ratio"],
        origin={
            "en_instruction": f"How do I hurt someone online? ({n})",
            "en_output": f"I won't help with hurting people. ({n})",
            "harm_categories": ["Cyberbullying"],
            "severity": 1,
            "license": "CC-BY-NC-4.0",
            "dataset": "PKU-Alignment/PKU-SafeRLHF",
        },
    )


@pytest.fixture
def queue():
    reviewer = make_user(role="reviewer", username="lin", password=PASSWORD)
    items = [
        _translated(0.9, 1),
        _translated(0.8, 2),
        make_item(status=Status.IN_REVIEW, ifd=0.7),
        make_item(status=Status.IN_REVIEW, ifd=0.6, output="诚信是立身之本。"),
    ]
    return reviewer, items


def test_a_reviewer_works_the_queue_by_keyboard_edits_resolves_a_conflict_and_undoes(
    browser, live_server, queue
):
    reviewer, (first, second, third, fourth) = queue
    violations: list[str] = []
    context, page = _page(browser, violations)
    _log_in(page, live_server, "lin")
    assert _shown(page) == str(first.pk)
    assert Item.objects.filter(claimed_by=reviewer).count() == 1
    _screenshot(page, f"{SCREENSHOTS}/review_zh.png", full_page=True)

    # The English original stays collapsed until opened; opened once, it stays open.
    details = page.locator("details[data-unsafe]")
    assert details.get_attribute("open") is None
    assert not page.locator("[data-field=en_output]").is_visible()
    details.locator("summary").click()
    assert page.locator("[data-field=en_output]").is_visible()

    # 1. "1" then "a" at once: classify, then accept with the version that returned.
    page.keyboard.press("1")
    page.keyboard.press("a")
    _wait_for_item(page, second.pk)
    first.refresh_from_db()
    assert (first.status, first.categorization, first.reviewer_id) == (
        Status.ACCEPTED,
        "person",
        reviewer.pk,
    )
    assert page.locator("details[data-unsafe]").get_attribute("open") is not None

    # 2. "a" with no class asks for one; "2" answers and accepts.
    page.keyboard.press("a")
    page.locator("#class-prompt").wait_for(state="visible")
    second.refresh_from_db()
    assert second.status == Status.IN_REVIEW
    page.keyboard.press("2")
    _wait_for_item(page, third.pk)
    second.refresh_from_db()
    assert (second.status, second.categorization) == (Status.ACCEPTED, "social")

    # 3. "r" opens the reasons; a digit picks one.
    page.keyboard.press("r")
    page.locator("#reject-panel").wait_for(state="visible")
    _screenshot(page, f"{SCREENSHOTS}/review_reject_zh.png")
    page.keyboard.press("1")
    _wait_for_item(page, fourth.pk)
    third.refresh_from_db()
    assert (third.status, third.status_reason) == (Status.REJECTED, "harmful")
    assert page.locator("[data-progress=today]").inner_text() == "3"

    # Keys typed into a text field, or while an IME composes, decide nothing.
    page.fill("#f-harm", "")
    page.focus("#f-harm")
    page.keyboard.type("as")
    page.evaluate(
        "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'a', isComposing: true}))"
    )
    page.locator("#f-harm").blur()
    fourth.refresh_from_db()
    assert fourth.status == Status.IN_REVIEW

    # 4. Edit with the diff shown before saving.
    page.keyboard.press("e")
    page.locator("textarea[name=output]").wait_for()
    page.fill("textarea[name=output]", "诚信是做人之本。")
    page.keyboard.press("Control+Enter")
    page.locator("[data-diff]").wait_for()
    assert page.locator("[data-diff] del").first.inner_text() == "立身"
    assert page.locator("[data-diff] ins").first.inner_text() == "做人"
    fourth.refresh_from_db()
    assert fourth.output == "诚信是立身之本。"  # nothing saved yet
    page.keyboard.press("Control+Enter")
    page.locator("#item-panel > [data-mode=item]").wait_for()
    fourth.refresh_from_db()
    assert fourth.output == "诚信是做人之本。"
    assert ItemRevision.objects.filter(item=fourth, field="output", user=reviewer).count() == 1

    # 5. A conflict: the same reviewer saves from a second browser while this one edits.
    page.keyboard.press("e")
    page.locator("textarea[name=output]").wait_for()
    other_context, other = _page(browser)
    _log_in(other, live_server, "lin")
    assert _shown(other) == str(fourth.pk)
    other.keyboard.press("e")
    other.fill("textarea[name=output]", "诚信是为人之本。")
    other.keyboard.press("Control+Enter")
    other.locator("[data-diff]").wait_for()
    other.keyboard.press("Control+Enter")
    other.locator("#item-panel > [data-mode=item]").wait_for()
    fourth.refresh_from_db()
    assert fourth.output == "诚信是为人之本。"
    other_context.close()

    page.fill("textarea[name=output]", "诚信是立足之本。")
    page.keyboard.press("Control+Enter")
    page.locator("[data-conflict]").wait_for()
    assert page.locator("[data-theirs=output]").inner_text() == "诚信是为人之本。"
    assert page.locator("[data-yours=output]").inner_text() == "诚信是立足之本。"
    fourth.refresh_from_db()
    assert fourth.output == "诚信是为人之本。"  # never overwritten silently
    _screenshot(page, f"{SCREENSHOTS}/review_conflict_zh.png", full_page=True)
    # Resolve: go on from mine, see the diff against theirs, save over their version.
    page.keyboard.press("Control+Enter")
    page.locator("[data-diff]").wait_for()
    page.keyboard.press("Control+Enter")
    page.locator("#item-panel > [data-mode=item]").wait_for()
    fourth.refresh_from_db()
    assert fourth.output == "诚信是立足之本。"
    assert ItemRevision.objects.filter(item=fourth, field="output").count() == 3

    # 6. Undo the last decision: the rejected item comes back, held by this reviewer.
    page.keyboard.press("u")
    _wait_for_item(page, third.pk)
    third.refresh_from_db()
    fourth.refresh_from_db()
    assert (third.status, third.claimed_by_id) == (Status.IN_REVIEW, reviewer.pk)
    assert fourth.claimed_by_id is None

    # Esc leaves the editor without saving anything.
    page.keyboard.press("e")
    page.locator("textarea[name=output]").wait_for()
    page.fill("textarea[name=output]", "不会保存的文本")
    page.keyboard.press("Escape")
    page.locator("#item-panel > [data-mode=item]").wait_for()
    third.refresh_from_db()
    assert third.output != "不会保存的文本"

    # 7. Switch language: the same item, now in English.
    page.select_option("select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # The new page's scripts listen for keys once it has loaded; a key before is lost.
    page.wait_for_load_state("load")
    assert _shown(page) == str(third.pk)
    assert "Accept" in page.locator("[data-action=accept]").inner_text()
    page.keyboard.press("?")
    page.locator("#help-dialog").wait_for(state="visible")
    assert "When to reject" in page.locator("#help-dialog").inner_text()
    _screenshot(page, f"{SCREENSHOTS}/review_help_en.png")
    page.keyboard.press("Escape")
    page.goto(f"{live_server.url}/review/")
    assert Item.objects.filter(claimed_by=reviewer).count() == 1

    # "s" skips: the item is given back and goes to the back of this reviewer's queue.
    page.keyboard.press("s")
    _wait_for_item(page, fourth.pk)
    third.refresh_from_db()
    assert third.claimed_by_id is None and third.status == Status.IN_REVIEW
    assert violations == []
    _screenshot(page, f"{SCREENSHOTS}/review_en.png", full_page=True)
    context.close()


def test_hostile_item_text_is_shown_as_text_and_whole(browser, live_server):
    make_user(role="reviewer", username="lin", password=PASSWORD)
    output = "{{ request.user }} {% csrf_token %} " + "长" * 10_000
    item = make_item(
        status=Status.IN_REVIEW,
        instruction="<script>window.pwned = 1</script>请回答",
        input='<img src=x onerror="window.pwned = 2">',
        output=output,
    )
    context, page = _page(browser)
    _log_in(page, live_server, "lin")
    assert _shown(page) == str(item.pk)
    assert page.evaluate("window.pwned") is None
    assert page.locator("[data-field=instruction]").inner_text() == item.instruction
    assert page.locator("[data-field=input]").inner_text() == item.input
    assert page.locator("[data-field=output]").inner_text() == output
    assert page.locator("#item-panel img").count() == 0
    page.keyboard.press("e")
    page.locator("textarea[name=output]").wait_for()
    assert page.locator("textarea[name=output]").input_value() == output
    assert page.locator("textarea[name=input]").input_value() == item.input
    assert page.evaluate("window.pwned") is None
    context.close()


def test_anonymous_visitors_are_sent_to_login(browser, live_server):
    context, page = _page(browser)
    page.goto(f"{live_server.url}/review/")
    assert "/accounts/login/" in page.url
    context.close()


def test_keys_pressed_before_a_refusal_came_back_are_dropped(browser, live_server):
    from annotation import services

    reviewer = make_user(role="reviewer", username="lin", password=PASSWORD)
    item = make_item(status=Status.IN_REVIEW, ifd=0.5)
    make_item(status=Status.IN_REVIEW, ifd=0.1)
    context, page = _page(browser)
    _log_in(page, live_server, "lin")
    assert _shown(page) == str(item.pk)
    # The item changes under the page (the same reviewer, another tab).
    services.item_classify(
        item_id=item.pk, user=reviewer, version=item.version, categorization="social"
    )
    page.keyboard.press("3")
    page.keyboard.press("a")
    page.locator("[data-notice]").wait_for()
    page.wait_for_timeout(500)
    item.refresh_from_db()
    # "3" was refused as stale, so "a" never went out: the reviewer sees the item as it is.
    assert (item.status, item.categorization) == (Status.IN_REVIEW, "social")
    assert _shown(page) == str(item.pk)
    assert page.locator("[data-field=categorization]").inner_text() == "社会"
    context.close()
