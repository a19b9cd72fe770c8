"""Redis unreachable (broker and cache): starting a job says so, and no job waits forever.

The broker and the cache point at a port where nothing listens, so every connection is
really refused; the Celery app is a fresh one configured from the settings, as a web process
would have, with retries off so that the refusal comes at once.
"""

import socket

import pytest
from celery import Celery
from celery import current_app as celery_current_app
from django.test import Client

from annotation.models import Job
from tests.factories import make_item

pytestmark = pytest.mark.django_db(transaction=True)  # messages are sent on a real commit


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: connections refused


@pytest.fixture
def redis_down(settings, monkeypatch):
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads it before any setting
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Refused at once rather than after the retries (about a second in production).
    settings.CELERY_TASK_PUBLISH_RETRY = False
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "max_retries": 0,
    }
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    previous = celery_current_app._get_current_object()
    app = Celery("vad_review_redis_down", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    assert app.conf.broker_url == url and not app.conf.task_always_eager
    app.set_current()
    app.set_default()
    try:
        yield url
    finally:
        previous.set_current()
        previous.set_default()
        app.close()


@pytest.fixture
def candidates():
    return [make_item() for _ in range(3)]


@pytest.mark.parametrize(
    ("path", "data"),
    [("/api/v1/pipeline/score/", {"model": "/models/any"}), ("/api/v1/pipeline/filter/", {})],
)
def test_starting_a_job_answers_503_and_leaves_no_job_waiting(
    redis_down, admin_api, candidates, path, data
):
    response = admin_api.post(path, data, format="json")
    assert response.status_code == 503, response.content
    assert "task queue cannot be reached" in response.json()["detail"]
    job = Job.objects.get()
    assert job.status == Job.State.FAILED
    assert "could not be reached" in job.error and "Start it again" in job.error


def test_the_dashboard_panel_says_plainly_that_the_job_was_not_started(
    redis_down, admin_user, candidates
):
    client = Client()
    client.force_login(admin_user)
    headers = {"HTTP_HX_REQUEST": "true"}  # the default language: Chinese
    response = client.post("/pipeline/score/", {"model": "/models/any"}, **headers)
    assert response.status_code == 200
    assert "任务队列无法连接" in response.content.decode()
    english = client.post(
        "/pipeline/score/", {"model": "/models/any"}, HTTP_ACCEPT_LANGUAGE="en", **headers
    )
    assert "The task queue cannot be reached" in english.content.decode()
    assert set(Job.objects.values_list("status", flat=True)) == {Job.State.FAILED}
    # The job table still draws, from the rows alone, while the cache is down too.
    table = client.get("/jobs/table/", HTTP_ACCEPT_LANGUAGE="en", **headers)
    assert table.status_code == 200 and table.content.decode().count("data-job=") == 2


def test_resuming_while_the_queue_is_down_answers_503(redis_down, admin_api, candidates):
    from annotation.services import job_create, job_create_chunks, job_fail

    job = job_create(kind=Job.Kind.SCORE, params={})
    job_create_chunks(job=job, item_ids=[i.pk for i in candidates], chunk_size=2)
    job_fail(job_id=job.pk, error="chunk 0: boom")
    response = admin_api.post(f"/api/v1/jobs/{job.pk}/resume/")
    assert response.status_code == 503
    job.refresh_from_db()
    assert job.status == Job.State.FAILED and "could not be reached" in job.error


def test_an_import_upload_answers_503_and_its_job_fails_when_the_queue_is_down(
    redis_down, admin_api, tmp_path
):
    upload = tmp_path / "items.jsonl"
    upload.write_text(
        '{"instruction": "问", "input": "", "output": "答", "source": "manual"}\n',
        encoding="utf-8",
    )
    with upload.open("rb") as f:
        response = admin_api.post("/api/v1/imports/", {"format": "vad", "file": f})
    assert response.status_code == 503, response.content
    job = Job.objects.get(kind=Job.Kind.IMPORT)
    assert job.status == Job.State.FAILED and "could not be reached" in job.error
