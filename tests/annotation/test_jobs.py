"""Job state changes under a row lock, heartbeats, the stalled label, resume and the sweep."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from annotation.models import Job, JobChunk
from annotation.selectors import job_is_stalled, job_last_beat
from annotation.services import (
    job_cancel,
    job_create,
    job_create_chunks,
    job_fail,
    job_finish_if_complete,
    job_heartbeat,
    job_heartbeats,
    job_publish_progress,
    job_sender_register,
    job_start,
    job_succeed,
    jobs_sweep_stalled,
)

pytestmark = pytest.mark.django_db

# A kind that no app resumes: the tests register a sender of their own for it.
TEST_KIND = Job.Kind.RELEASE


@pytest.fixture
def sent():
    """Job ids that the registered sender was asked to queue again."""
    calls: list[int] = []
    job_sender_register(kind=TEST_KIND, send=calls.append)
    yield calls
    job_sender_register(kind=TEST_KIND, send=None)


def running(kind=TEST_KIND, *, beat_seconds_ago: float = 0) -> Job:
    job = job_create(kind=kind, params={})
    job_start(job_id=job.pk)
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=beat_seconds_ago),
        started_at=timezone.now() - timedelta(seconds=beat_seconds_ago),
    )
    return Job.objects.get(pk=job.pk)


@pytest.mark.parametrize("finish", ["cancel", "succeed"])
def test_a_failure_never_overwrites_a_finished_job(finish):
    job = running()
    if finish == "cancel":
        job_cancel(job_id=job.pk)
    else:
        job_succeed(job_id=job.pk, report={"ok": 1})
    after = job_fail(job_id=job.pk, error="chunk 3: boom")
    after.refresh_from_db()
    assert after.status == ("cancelled" if finish == "cancel" else "succeeded")
    assert after.error == ""


@pytest.mark.parametrize("finish", ["cancel", "fail"])
def test_a_late_success_never_overwrites_a_cancel_or_a_failure(finish):
    job = running()
    if finish == "cancel":
        job_cancel(job_id=job.pk)
    else:
        job_fail(job_id=job.pk, error="boom")
    job_succeed(job_id=job.pk, report={"created": 5}, done=5)
    job.refresh_from_db()
    assert job.status == ("cancelled" if finish == "cancel" else "failed")
    assert job.done == 0 and "created" not in job.report


@pytest.mark.django_db(transaction=True)
def test_a_failure_waits_for_a_cancel_that_holds_the_row_and_then_leaves_it_cancelled():
    job = running()
    locked = threading.Event()

    def cancel_slowly() -> None:
        try:
            with transaction.atomic():
                Job.objects.select_for_update().get(pk=job.pk)
                Job.objects.filter(pk=job.pk).update(status=Job.State.CANCELLED)
                locked.set()
                time.sleep(0.5)  # job_fail must wait here, not act on what it read before
        finally:
            connections.close_all()

    other = threading.Thread(target=cancel_slowly)
    other.start()
    assert locked.wait(10)
    after = job_fail(job_id=job.pk, error="chunk 1: boom")
    other.join()
    after.refresh_from_db()
    assert (after.status, after.error) == ("cancelled", "")


def test_a_job_succeeds_once_its_last_chunk_is_done():
    job = job_create(kind=Job.Kind.SCORE, params={})
    job_create_chunks(job=job, item_ids=[1, 2, 3], chunk_size=2)
    assert not job_finish_if_complete(job_id=job.pk)
    JobChunk.objects.filter(job=job).update(done=True)
    assert job_finish_if_complete(job_id=job.pk)
    assert not job_finish_if_complete(job_id=job.pk)  # once
    job.refresh_from_db()
    assert job.status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_outside_a_transaction_stamps_the_job_row():
    job = running(beat_seconds_ago=600)
    job_heartbeat(job_id=job.pk)
    job.refresh_from_db()
    assert timezone.now() - job.heartbeat_at < timedelta(seconds=5)


def test_a_heartbeat_inside_a_transaction_goes_to_the_cache_and_leaves_the_row_unlocked():
    job = running(beat_seconds_ago=600)
    # Inside an import's transaction: the row is not written (it would stay locked).
    job_publish_progress(job_id=job.pk, done=10, total=100)
    job.refresh_from_db()
    assert timezone.now() - job.heartbeat_at > timedelta(seconds=500)
    assert timezone.now() - job_last_beat(job=job) < timedelta(seconds=5)
    assert not job_is_stalled(job=job)


@pytest.mark.django_db(transaction=True)
def test_heartbeats_keep_coming_while_long_work_runs():
    job = running(beat_seconds_ago=600)
    with job_heartbeats(job_id=job.pk, every=0.05):
        time.sleep(0.4)
    job.refresh_from_db()
    assert timezone.now() - job.heartbeat_at < timedelta(seconds=5)


def test_a_running_job_without_a_heartbeat_past_the_threshold_is_stalled(settings):
    settings.VAD_JOB_STALL_SECONDS = 300
    assert job_is_stalled(job=running(beat_seconds_ago=301))
    assert not job_is_stalled(job=running(beat_seconds_ago=100))
    assert not job_is_stalled(job=job_create(kind=TEST_KIND, params={}))  # queued
    done = running(beat_seconds_ago=1000)
    job_succeed(job_id=done.pk)
    done.refresh_from_db()
    assert not job_is_stalled(job=done)


def test_the_api_labels_a_stalled_job(settings, admin_api):
    settings.VAD_JOB_STALL_SECONDS = 300
    stalled, alive = running(beat_seconds_ago=400), running(beat_seconds_ago=10)
    body = admin_api.get("/api/v1/jobs/").json()["results"]
    labels = {job["id"]: (job["status"], job["stalled"]) for job in body}
    assert labels[stalled.pk] == ("running", True)
    assert labels[alive.pk] == ("running", False)


def test_the_sweep_sends_a_stalled_pipeline_job_again_and_leaves_live_ones(
    settings, sent, django_capture_on_commit_callbacks
):
    settings.VAD_JOB_STALL_SECONDS = 300
    stalled, _alive = running(beat_seconds_ago=400), running(beat_seconds_ago=10)
    with django_capture_on_commit_callbacks(execute=True):  # the send happens on commit
        outcome = jobs_sweep_stalled()
    assert outcome == {"resent": [stalled.pk], "failed": []}
    assert sent == [stalled.pk]
    stalled.refresh_from_db()
    # Still running, with a fresh beat: it is not sent again at the next sweep.
    assert stalled.status == "running" and not job_is_stalled(job=stalled)
    assert stalled.report["resumed"] == 1
    assert jobs_sweep_stalled() == {"resent": [], "failed": []}


def test_the_sweep_fails_a_stalled_import(settings):
    settings.VAD_JOB_STALL_SECONDS = 300
    job = running(Job.Kind.IMPORT, beat_seconds_ago=400)
    assert jobs_sweep_stalled() == {"resent": [], "failed": [job.pk]}
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("stalled: no heartbeat from its worker since")


@pytest.mark.django_db(transaction=True)
def test_the_sweep_leaves_an_import_whose_transaction_is_still_open(settings):
    settings.VAD_JOB_STALL_SECONDS = 300
    job = running(Job.Kind.IMPORT, beat_seconds_ago=400)
    holding, release = threading.Event(), threading.Event()

    def import_session() -> None:  # holds the import's lock, as import_job_run does
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x56414449, job.pk])
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    other = threading.Thread(target=import_session)
    other.start()
    try:
        assert holding.wait(10)
        assert jobs_sweep_stalled() == {"resent": [], "failed": []}
    finally:
        release.set()
        other.join()
    assert jobs_sweep_stalled() == {"resent": [], "failed": [job.pk]}


def resume_url(job_id: int) -> str:
    return f"/api/v1/jobs/{job_id}/resume/"


def test_an_admin_resumes_a_failed_pipeline_job_through_the_api(
    admin_api, sent, admin_user, django_capture_on_commit_callbacks
):
    job = running()
    job_fail(job_id=job.pk, error="chunk 2: CUDA out of memory")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(resume_url(job.pk))
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["error"], body["finished_at"]) == ("running", "", None)
    assert sent == [job.pk]
    assert body["report"]["resumed_by"] == admin_user.username


def test_imports_and_finished_jobs_cannot_be_resumed(admin_api, sent):
    one_shot = running(Job.Kind.IMPORT)
    finished = running()
    job_succeed(job_id=finished.pk)
    for job in (one_shot, finished):
        response = admin_api.post(resume_url(job.pk))
        assert response.status_code == 409, response.content
    assert "start it again" in admin_api.post(resume_url(one_shot.pk)).json()["detail"]
    assert sent == []
    assert admin_api.post(resume_url(10**9)).status_code == 404


def test_reviewers_and_anonymous_users_may_not_resume(reviewer_api, anon_api, sent):
    job = running()
    assert reviewer_api.post(resume_url(job.pk)).status_code == 403
    assert anon_api.post(resume_url(job.pk)).status_code == 401
    assert sent == []


def test_the_job_table_labels_a_stalled_job(settings, admin_user):
    from django.test import Client

    settings.VAD_JOB_STALL_SECONDS = 300
    stalled, alive = running(beat_seconds_ago=400), running(beat_seconds_ago=10)
    client = Client()
    client.force_login(admin_user)
    table = client.get("/jobs/table/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    rows = {row.split('"')[0]: row for row in table.split('data-job="')[1:]}
    assert "data-job-stalled" in rows[str(stalled.pk)] and "停滞" in rows[str(stalled.pk)]
    assert "data-job-stalled" not in rows[str(alive.pk)]
