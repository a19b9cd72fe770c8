"""The Django admin shows items and jobs; it changes them only through the services."""

import pytest
from django.test import Client

from annotation.models import Item, ItemRevision, Job, Status
from annotation.services import job_create, job_start
from tests.factories import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(admin_user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the messages below are the English ones
    client.force_login(admin_user)
    return client


def test_an_item_is_shown_but_its_form_cannot_change_it(admin_client_):
    item = make_item(status=Status.CANDIDATE)
    url = f"/admin/annotation/item/{item.pk}/change/"
    page = admin_client_.get(url)
    assert page.status_code == 200
    assert item.output in page.content.decode()
    assert b'name="output"' not in page.content and b'name="status"' not in page.content
    posted = admin_client_.post(url, {"output": "改过的回答", "status": "accepted", "version": 9})
    assert posted.status_code == 403
    item.refresh_from_db()
    assert (item.output, item.status, item.version) == (f"{item.output}", "candidate", 1)
    assert not ItemRevision.objects.exists()
    assert admin_client_.get("/admin/annotation/item/add/").status_code == 403
    assert admin_client_.post(f"/admin/annotation/item/{item.pk}/delete/").status_code == 403
    assert Item.objects.filter(pk=item.pk).exists()


def test_sending_items_to_review_from_the_admin_goes_through_the_lifecycle(
    admin_client_, admin_user
):
    scored = make_item(status=Status.SCORED, ifd=0.3)
    candidate = make_item(status=Status.CANDIDATE)
    response = admin_client_.post(
        "/admin/annotation/item/",
        {"action": "send_to_review", "_selected_action": [scored.pk, candidate.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "2 items sent to review" in response.content.decode()
    chinese = admin_client_.get("/admin/annotation/item/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "将所选条目送审" in chinese.content.decode()  # the action, translated
    for item in (scored, candidate):
        item.refresh_from_db()
        assert (item.status, item.version) == ("in_review", 2)
    revisions = ItemRevision.objects.filter(field="status", new_value="in_review")
    assert revisions.count() == 2 and {r.user for r in revisions} == {admin_user}


def test_a_forbidden_transition_from_the_admin_changes_nothing_and_says_why(admin_client_):
    accepted = make_item(status=Status.ACCEPTED, categorization="person")
    seed = make_item(status=Status.SEED, output="")
    response = admin_client_.post(
        "/admin/annotation/item/",
        {"action": "send_to_review", "_selected_action": [accepted.pk, seed.pk]},
        follow=True,
    )
    assert "Nothing was sent to review" in response.content.decode()
    assert "cannot go from seed to in_review" in response.content.decode()
    accepted.refresh_from_db()
    assert (accepted.status, accepted.version) == ("accepted", 1)


def test_a_job_is_read_only_and_its_cancel_action_calls_the_service(admin_client_, admin_user):
    job = job_create(kind=Job.Kind.SCORE, params={})
    job_start(job_id=job.pk)
    url = f"/admin/annotation/job/{job.pk}/change/"
    assert admin_client_.get(url).status_code == 200
    assert admin_client_.post(url, {"status": "succeeded", "done": 5}).status_code == 403
    job.refresh_from_db()
    assert (job.status, job.done) == ("running", 0)

    response = admin_client_.post(
        "/admin/annotation/job/",
        {"action": "cancel_jobs", "_selected_action": [job.pk]},
        follow=True,
    )
    assert "1 job cancelled" in response.content.decode()
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert job.report["cancelled_by"] == admin_user.username
    again = admin_client_.post(
        "/admin/annotation/job/",
        {"action": "cancel_jobs", "_selected_action": [job.pk]},
        follow=True,
    )
    # The admin shows messages capitalised.
    assert f"job {job.pk} has already cancelled" in again.content.decode().lower()


def test_every_admin_list_searches_filters_and_opens_its_rows(admin_client_, admin_user):
    """Each list of the admin, searched and with every choice of its filters (the links its
    filter panel offers), and each row's page: all that the ORM sends to PostgreSQL through
    server-side binding, run twice so that what is prepared runs prepared too."""
    import html
    import re

    from django.contrib import admin
    from django.contrib.admin.views.main import SEARCH_VAR

    make_item()
    job_create(kind=Job.Kind.SCORE, params={}, user=admin_user)
    filters_tried = 0
    for model in admin.site._registry:
        changelist = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        first = admin_client_.get(changelist)
        assert first.status_code == 200, changelist
        panel = re.search(r'<nav id="changelist-filter".*?</nav>', first.content.decode(), re.S)
        links = re.findall(r'href="(\?[^"]+)"', panel.group(0)) if panel else []
        filters_tried += len(links)
        for query in [f"?{SEARCH_VAR}=测试", *map(html.unescape, links)] * 2:
            response = admin_client_.get(changelist + query)
            assert response.status_code == 200, (changelist + query, response.status_code)
            assert "?e=1" not in response.get("Location", "")
        for pk in model.objects.values_list("pk", flat=True)[:2]:
            page = admin_client_.get(f"{changelist}{pk}/change/")
            assert page.status_code == 200, (changelist, pk, page.status_code)
    assert filters_tried > 20, filters_tried


def test_the_admin_names_models_and_fields_in_chinese(admin_user):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(admin_user)
    item = make_item()
    index = client.get("/admin/").content.decode()
    assert all(name in index for name in ("VAD 标注", "条目", "修订", "任务分块", "已保存的筛选"))
    changelist = client.get("/admin/annotation/item/").content.decode()
    assert "<title>选择条目查看 | VAD Review 管理</title>" in changelist
    assert "层级" in changelist and "状态" in changelist  # columns and filters
    page = client.get(f"/admin/annotation/item/{item.pk}/change/").content.decode()
    assert all(label in page for label in ("指令", "回答", "审核人", "领取到期时间"))
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.force_login(admin_user)
    assert (
        "Claim expires at"
        in english.get(f"/admin/annotation/item/{item.pk}/change/").content.decode()
    )
