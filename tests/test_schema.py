import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_documents_the_item_job_and_export_endpoints(admin_api):
    response = admin_api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    for path in (
        "/api/v1/items/",
        "/api/v1/items/{item_id}/",
        "/api/v1/jobs/",
        "/api/v1/jobs/{job_id}/",
        "/api/v1/jobs/{job_id}/cancel/",
        "/api/v1/export/",
    ):
        assert path in paths, path
    export_parameters = {p["name"] for p in paths["/api/v1/export/"]["get"]["parameters"]}
    assert {"format", "include", "status", "source", "categorization"} <= export_parameters
    assert {"min_ifd", "max_ifd", "updated_after"} <= export_parameters
    item_parameters = {p["name"] for p in paths["/api/v1/items/"]["get"]["parameters"]}
    assert {"q", "harm_category", "parent", "import_job", "cursor", "page_size"} <= item_parameters


def test_the_schema_is_not_public(anon_api):
    assert anon_api.get("/api/v1/schema/").status_code == 401


def test_the_schema_documents_imports_and_the_pipeline(admin_api):
    response = admin_api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    paths = yaml.safe_load(response.content)["paths"]
    for path in (
        "/api/v1/imports/",
        "/api/v1/imports/{job_id}/rollback/",
        "/api/v1/pipeline/score/",
        "/api/v1/pipeline/filter/",
    ):
        assert path in paths, path


def test_the_docs_page_serves_its_scripts_itself(admin_user, client):
    client.force_login(admin_user)
    page = client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr.net" not in page and "/static/drf_spectacular_sidecar/" in page
