"""POST /api/v1/imports/ and /api/v1/imports/{id}/rollback/; tasks run eagerly in tests."""

import json
from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Item, Job
from annotation.services import item_change_status
from tests.factories import vad_record

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SAFERLHF_SAMPLE = FIXTURES / "pku_saferlhf_alpaca7b_test_sample.jsonl"
URL = "/api/v1/imports/"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def vad_file(*records: dict, name: str = "hand.jsonl") -> SimpleUploadedFile:
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return upload(name, body.encode())


# The task runs when the job is committed: these tests commit for real.
committing = pytest.mark.django_db(transaction=True)


@committing
def test_an_admin_uploads_a_file_and_gets_the_finished_job_with_its_report(admin_api, media_root):
    response = admin_api.post(
        URL,
        {"file": upload("test.jsonl", SAFERLHF_SAMPLE.read_bytes()), "format": "saferlhf"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert (body["kind"], body["status"]) == ("import", "succeeded")
    assert body["params"]["rule"] == "safe-better" and body["params"]["file_name"] == "test.jsonl"
    assert body["url"].endswith(f"/api/v1/jobs/{job.pk}/")
    assert response["Location"] == body["url"]
    report = body["report"]
    assert (report["read"], report["created"], report["not_selected"]) == (16, 11, 5)
    assert body["done"] == body["total"] == 16
    assert Item.objects.filter(import_job=job).count() == 11
    # The upload is deleted once its import has finished; items name it as it was sent.
    assert not (media_root / "imports" / str(job.pk)).exists()
    origin = Item.objects.filter(import_job=job).first().origin
    assert (origin["config"], origin["split"]) == (None, "test")


@committing
def test_a_rejected_upload_gives_a_failed_job_listing_the_row_errors(admin_api):
    file = vad_file(
        vad_record(1), vad_record(2, categorization="family"), name="../../evil name.jsonl"
    )
    response = admin_api.post(URL, {"file": file, "format": "vad"}, format="multipart")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "failed"
    assert body["report"]["errors"] == [
        {
            "file": "evil_name.jsonl",
            "line": 2,
            "field": "categorization",
            "message": "'family' is not one of person, social, nation",
        }
    ]
    assert "evil_name.jsonl:2: categorization" in body["error"]
    assert not Item.objects.exists()


@committing
def test_options_of_the_upload_reach_the_import(admin_api):
    file = vad_file(vad_record(1), vad_record(2, source="web"))
    response = admin_api.post(
        URL,
        {"file": file, "format": "vad", "skip_invalid": "true", "dry_run": "true"},
        format="multipart",
    )
    body = response.json()
    assert body["status"] == "succeeded"
    assert (body["params"]["skip_invalid"], body["params"]["dry_run"]) == (True, True)
    assert (body["report"]["created"], body["report"]["invalid"]) == (1, 1)
    assert not Item.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "with_file", "field"),
    [
        ({"format": "alpaca"}, True, "format"),
        ({"format": "saferlhf", "rule": "kindest"}, True, "rule"),
        ({"format": "vad"}, False, "file"),
        ({}, True, "format"),
    ],
)
def test_an_unknown_format_or_rule_or_a_missing_file_is_a_400(admin_api, data, with_file, field):
    payload = {**data, "file": vad_file(vad_record(1))} if with_file else data
    response = admin_api.post(URL, payload, format="multipart")
    assert response.status_code == 400
    assert field in response.json()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_an_upload_over_the_size_limit_is_refused_and_leaves_no_job(admin_api, settings):
    settings.VAD_UPLOAD_MAX_BYTES = 10
    response = admin_api.post(
        URL, {"file": vad_file(vad_record(1)), "format": "vad"}, format="multipart"
    )
    assert response.status_code == 413
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_anonymous_users_get_401_and_reviewers_403(anon_api, reviewer_api):
    for client, expected in ((anon_api, 401), (reviewer_api, 403)):
        payload = {"file": vad_file(vad_record(1)), "format": "vad"}
        assert client.post(URL, payload, format="multipart").status_code == expected
        assert client.post(f"{URL}1/rollback/").status_code == expected
    assert not Job.objects.exists()


@committing
def test_rollback_deletes_an_unreviewed_import_and_a_reviewed_one_is_a_409(admin_api):
    first = admin_api.post(
        URL, {"file": vad_file(vad_record(1), vad_record(2)), "format": "vad"}, format="multipart"
    ).json()
    response = admin_api.post(f"{URL}{first['id']}/rollback/")
    # A job does the deleting (here in-process, as tasks run eagerly in tests).
    assert response.status_code == 202
    rollback = response.json()
    assert (rollback["kind"], rollback["status"]) == ("rollback", "succeeded")
    assert rollback["report"] == {"import_job": first["id"], "deleted": 2}
    assert response["Location"].endswith(f"/api/v1/jobs/{rollback['id']}/")
    assert not Item.objects.exists()

    second = admin_api.post(
        URL,
        {"file": vad_file(vad_record(3, categorization="social")), "format": "vad"},
        format="multipart",
    ).json()
    item = Item.objects.get(import_job_id=second["id"])
    item_change_status(item_id=item.pk, status="in_review", user=None)
    item_change_status(item_id=item.pk, status="accepted", user=None)
    response = admin_api.post(f"{URL}{second['id']}/rollback/")
    assert response.status_code == 409
    assert "have been reviewed" in response.json()["detail"]
    assert Item.objects.filter(pk=item.pk).exists()


@pytest.mark.django_db
def test_rollback_of_an_unknown_import_is_a_404(admin_api):
    assert admin_api.post(f"{URL}424242/rollback/").status_code == 404


@pytest.mark.django_db
def test_the_openapi_document_describes_the_upload(admin_api):
    response = admin_api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    schema = yaml.safe_load(response.content)
    operation = schema["paths"]["/api/v1/imports/"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    properties = schema["components"]["schemas"][form.rsplit("/", 1)[1]]["properties"]
    assert properties["file"]["format"] == "binary"
    assert {"format", "rule", "skip_invalid", "dry_run"} <= set(properties)
    assert "201" in operation["responses"]
    assert "/api/v1/imports/{job_id}/rollback/" in schema["paths"]
