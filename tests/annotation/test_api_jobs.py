import pytest

from annotation.models import Job
from annotation.services import (
    job_create,
    job_publish_progress,
    job_start,
    job_succeed,
)

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/jobs/"


def detail_url(job_id: int) -> str:
    return f"/api/v1/jobs/{job_id}/"


def cancel_url(job_id: int) -> str:
    return f"/api/v1/jobs/{job_id}/cancel/"


@pytest.fixture
def job(admin_user) -> Job:
    return job_create(kind=Job.Kind.IMPORT, params={"format": "vad"}, user=admin_user, total=10)


def test_anonymous_requests_are_refused_with_401(anon_api, job):
    assert anon_api.get(LIST_URL).status_code == 401
    assert anon_api.get(detail_url(job.pk)).status_code == 401
    assert anon_api.post(cancel_url(job.pk)).status_code == 401


def test_reviewers_may_not_see_or_cancel_jobs(reviewer_api, job):
    assert reviewer_api.get(LIST_URL).status_code == 403
    assert reviewer_api.get(detail_url(job.pk)).status_code == 403
    assert reviewer_api.post(cancel_url(job.pk)).status_code == 403
    job.refresh_from_db()
    assert job.status == Job.State.QUEUED


def test_admins_list_jobs_newest_first(admin_api, job):
    newer = job_create(kind=Job.Kind.SCORE, params={})
    body = admin_api.get(LIST_URL).json()
    assert [j["id"] for j in body["results"]] == [newer.pk, job.pk]


def test_a_job_shows_kind_params_progress_and_who_started_it(admin_api, job, admin_user):
    body = admin_api.get(detail_url(job.pk)).json()
    assert body["kind"] == "import"
    assert body["params"] == {"format": "vad"}
    assert body["status"] == "queued"
    assert (body["done"], body["total"], body["percent"]) == (0, 10, 0.0)
    assert body["created_by"] == admin_user.username
    assert {"error", "report", "created_at", "started_at", "finished_at", "updated_at"} <= set(body)


def test_a_running_import_shows_the_progress_it_publishes(admin_api, job):
    job_start(job_id=job.pk)
    # An import's rows are invisible until it commits; its progress is in the cache.
    job_publish_progress(job_id=job.pk, done=250, total=1000)
    body = admin_api.get(detail_url(job.pk)).json()
    assert (body["status"], body["done"], body["total"], body["percent"]) == (
        "running",
        250,
        1000,
        25.0,
    )


def test_a_finished_job_shows_its_final_counts(admin_api, job):
    job_start(job_id=job.pk)
    job_succeed(job_id=job.pk, done=10, report={"created": 10})
    body = admin_api.get(detail_url(job.pk)).json()
    assert (body["status"], body["done"], body["percent"]) == ("succeeded", 10, 100.0)
    assert body["report"] == {"created": 10}
    assert body["finished_at"]


def test_a_job_without_a_known_total_has_no_percent_yet(admin_api):
    job = job_create(kind=Job.Kind.TRANSLATE, params={})
    assert admin_api.get(detail_url(job.pk)).json()["percent"] is None


def test_cancelling_a_running_job_marks_it_cancelled(admin_api, job, admin_user):
    job_start(job_id=job.pk)
    response = admin_api.post(cancel_url(job.pk))
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    job.refresh_from_db()
    assert job.status == Job.State.CANCELLED
    assert job.report["cancelled_by"] == admin_user.username


def test_cancelling_a_finished_job_is_a_409_conflict(admin_api, job):
    job_start(job_id=job.pk)
    job_succeed(job_id=job.pk)
    response = admin_api.post(cancel_url(job.pk))
    assert response.status_code == 409
    assert "succeeded" in response.json()["detail"]
    job.refresh_from_db()
    assert job.status == Job.State.SUCCEEDED


def test_a_missing_job_is_404(admin_api):
    assert admin_api.get(detail_url(987654)).status_code == 404
    assert admin_api.post(cancel_url(987654)).status_code == 404
