"""Pages say plainly when the scores they show come from a demo model (VAD_DEMO_MODELS)."""

import pytest
from django.test import Client

from annotation.models import Job, Status
from annotation.services import job_create
from tests.factories import make_item

pytestmark = pytest.mark.django_db

DEMO = "/srv/var/models/demo-ifd"
REAL = "/models/qwen2.5-7b"


def _client(user, language: str = "en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def _has_notice(client: Client) -> bool:
    return 'id="demo-notice"' in client.get("/").content.decode()


def test_every_user_is_told_when_the_configured_scoring_model_is_a_demo(
    settings, admin_user, reviewer_user
):
    settings.VAD_IFD_MODEL = DEMO
    settings.VAD_DEMO_MODELS = [DEMO]
    page = _client(admin_user).get("/").content.decode()
    assert "Demo scoring model." in page and "mean nothing" in page
    assert _has_notice(_client(reviewer_user))
    chinese = _client(reviewer_user, "zh-hans").get("/").content.decode()
    assert "演示评分模型" in chinese and "没有任何意义" in chinese


def test_demo_scores_left_in_the_database_keep_the_notice_after_switching_models(
    settings, reviewer_user
):
    settings.VAD_IFD_MODEL = REAL
    settings.VAD_DEMO_MODELS = [DEMO]
    client = _client(reviewer_user)
    assert not _has_notice(client)
    make_item(status=Status.SCORED, ifd=0.5, ifd_model=REAL)
    assert not _has_notice(client)
    make_item(status=Status.SCORED, ifd=0.7, ifd_model=DEMO)
    assert _has_notice(client)


def test_no_notice_where_no_demo_model_is_configured(settings, reviewer_user):
    settings.VAD_IFD_MODEL = DEMO
    settings.VAD_DEMO_MODELS = []
    make_item(status=Status.SCORED, ifd=0.7, ifd_model=DEMO)
    assert not _has_notice(_client(reviewer_user))


def test_the_job_table_marks_score_jobs_that_ran_a_demo_model(settings, admin_user):
    settings.VAD_DEMO_MODELS = [DEMO]
    demo_job = job_create(kind=Job.Kind.SCORE, params={"model": DEMO})
    real_job = job_create(kind=Job.Kind.SCORE, params={"model": REAL})
    import_job = job_create(kind=Job.Kind.IMPORT, params={"format": "vad"})
    table = _client(admin_user).get("/jobs/table/").content.decode()
    rows = {
        job.pk: table.split(f'data-job="{job.pk}"')[1].split("</tr>")[0]
        for job in (demo_job, real_job, import_job)
    }
    assert "demo model" in rows[demo_job.pk]
    assert "demo model" not in rows[real_job.pk]
    assert "demo model" not in rows[import_job.pk]
