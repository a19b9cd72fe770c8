"""Evolution from the dashboard in a real browser (Chromium, Playwright, live server), with
the served model stood in for by the scripted OpenAI-compatible server on 127.0.0.1."""

import pytest

from annotation.models import Item, Job, Source, Status
from tests.factories import make_item, make_user
from tests.pipeline.conftest import chat_server, default_respond, served  # noqa: F401

from .test_browser import PASSWORD, _log_in, page  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_evolves_a_seed_from_the_panel_then_has_it_answered_again(
    page,  # noqa: F811
    live_server,
    served,  # noqa: F811
):
    def respond(messages):  # the judge cannot make up its mind: the child is flagged
        return "嗯……" if "只回答" in messages[-1]["content"] else default_respond(messages)

    served.respond = respond
    make_user(role="admin", username="lin", password=PASSWORD)
    seed = make_item(
        instruction="如何看待诚信？", output="", status=Status.SEED, source=Source.SYNTHETIC
    )
    _log_in(page, live_server, "lin")
    page.wait_for_selector("#evolve-form")

    # No operation ticked: refused in place, no job.
    for box in page.locator("#evolve-form input[name=ops]").all():
        box.uncheck()
    page.click("#evolve-form button[type=submit]")
    page.wait_for_selector("#evolve-form .errorlist")
    assert not Job.objects.exists()

    page.check("#evolve-form input[value=deepen]")
    page.click("#evolve-form button[type=submit]")
    page.wait_for_selector("#pipeline .notice")
    status = page.locator("tr[data-job] td[data-job-status]")
    status.wait_for()
    assert status.get_attribute("data-job-status") == "succeeded"
    child = Item.objects.get(parent=seed)
    assert child.flags == ["judge_unparsed"] and child.status == Status.CANDIDATE

    page.click("#pipeline a[href='/pipeline/flagged/']")
    row = page.locator(f"#item-{child.pk}")
    row.wait_for()
    assert "judge_unparsed" in row.inner_text() and "deepen" in row.inner_text()
    served.respond = lambda messages: "新的回答：坚持诚信，建议从小事做起。"
    row.locator("button[type=submit]").click()  # 重新回答
    page.wait_for_selector(".messages .success")
    assert page.url.endswith("/pipeline/flagged/")
    child.refresh_from_db()
    assert child.output == "新的回答：坚持诚信，建议从小事做起。"
    assert child.flags == ["judge_unparsed"]  # the new answer was not judged again
