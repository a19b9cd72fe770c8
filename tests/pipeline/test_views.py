"""The admin pipeline panel: start score and filter jobs from the dashboard (tasks eager)."""

import pytest
from django.test import Client

from annotation.models import Item, Job, Status
from scoring.toy import build_toy_model
from tests.factories import make_item, make_user

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> str:
    return str(build_toy_model(tmp_path_factory.mktemp("panel-model") / "toy", seed=11))


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", ["/pipeline/score/", "/pipeline/filter/", "/jobs/table/"])
def test_only_admins_reach_the_pipeline_pages(url, reviewer_user):
    method = "get" if url == "/jobs/table/" else "post"
    assert getattr(Client(), method)(url).status_code == 302  # to the login page
    assert getattr(_client(reviewer_user), method)(url).status_code == 403
    assert Job.objects.count() == 0


def test_pipeline_forms_need_a_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post("/pipeline/filter/", {"rule": "drop_only"}, **HTMX).status_code == 403
    assert Job.objects.count() == 0


def test_an_admin_scores_then_filters_from_the_panel(
    admin_user, model_path, django_capture_on_commit_callbacks
):
    items = [
        make_item(instruction=f"请解释第{n}条社会公德。", output=f"第{n}条：尊重他人。")
        for n in range(4)
    ]
    client = _client(admin_user)

    with django_capture_on_commit_callbacks(execute=True):  # the queued tasks run (eager)
        scored = client.post("/pipeline/score/", {"model": model_path}, **HTMX)
    assert scored.status_code == 200 and scored["HX-Trigger"] == "jobs-changed"
    job = Job.objects.get(kind=Job.Kind.SCORE)
    assert f"#{job.pk}" in scored.content.decode()
    assert job.status == Job.State.SUCCEEDED and job.total == len(items)
    assert Item.objects.filter(ifd_model=model_path, ifd__isnull=False).count() == len(items)

    with django_capture_on_commit_callbacks(execute=True):
        filtered = client.post("/pipeline/filter/", {"rule": "keep_top", "value": "0.5"}, **HTMX)
    assert filtered.status_code == 200
    job = Job.objects.get(kind=Job.Kind.FILTER)
    assert job.status == Job.State.SUCCEEDED and job.params["keep_top"] == 0.5
    statuses = list(Item.objects.values_list("status", flat=True))
    assert statuses.count(Status.FILTERED_OUT) >= len(items) // 2
    assert set(statuses) <= {Status.FILTERED_OUT, Status.IN_REVIEW}  # kept: the review queue

    table = client.get("/jobs/table/", **HTMX).content.decode()
    assert table.count("data-job=") == 2 and "every 2s" not in table  # nothing left to poll


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rule": "keep_top", "value": "1.5"}, "at most 1"),
        ({"rule": "min_ifd"}, "needs a value"),
        ({"rule": "everything"}, "everything is not one of"),
    ],
)
def test_a_bad_filter_is_shown_in_the_panel_and_starts_nothing(admin_user, data, message):
    response = _client(admin_user).post("/pipeline/filter/", data, **HTMX)
    assert response.status_code == 200 and "HX-Trigger" not in response
    assert message in response.content.decode()
    assert Job.objects.count() == 0


def test_scoring_without_a_model_says_how_to_configure_one(admin_user, settings):
    settings.VAD_IFD_MODEL = ""
    response = _client(admin_user).post("/pipeline/score/", {"model": ""}, **HTMX)
    assert "VAD_IFD_MODEL" in response.content.decode()
    assert Job.objects.count() == 0


def test_without_htmx_the_form_redirects_to_the_dashboard_with_a_message(admin_user):
    client = _client(admin_user)
    response = client.post("/pipeline/filter/", {"rule": "drop_only"}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    job = Job.objects.get()
    assert f"#{job.pk}" in response.content.decode()


def test_a_running_job_keeps_the_table_polling(admin_user):
    Job.objects.create(kind=Job.Kind.SCORE, status=Job.State.RUNNING, total=10, done=3)
    page = _client(admin_user).get("/").content.decode()
    assert "every 2s" in page and "3/10" in page
    assert "score-form" in page and "filter-form" in page


def test_reviewers_do_not_see_the_panel():
    page = _client(make_user(role="reviewer")).get("/").content.decode()
    assert "score-form" not in page and "data-job" not in page
