"""The browsable API's pages may use inline styles; nothing else gets looser."""

import pytest
from django.test import Client


def _policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.django_db
def test_only_the_html_pages_of_the_api_allow_inline_styles(admin_user):
    client = Client()
    client.force_login(admin_user)
    page = client.get("/api/v1/items/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert _policy(page)["style-src"] == "'self' 'unsafe-inline'"
    assert _policy(page)["script-src"] == "'self'"

    data = client.get("/api/v1/items/", headers={"Accept": "application/json"})
    assert data["Content-Type"] == "application/json"
    assert _policy(data)["style-src"] == "'self'"
    assert _policy(client.get("/review/"))["style-src"] == "'self'"
