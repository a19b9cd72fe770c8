import pytest
from django.test import Client

from tests.factories import make_item, make_user

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_healthz_needs_no_login_and_says_nothing_more():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_anonymous_users_are_sent_to_the_login_page():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_user_without_a_role_is_refused():
    assert _client(make_user(role="reviewer", username="x")).get("/").status_code == 200
    outsider = make_user(role="reviewer", username="outsider")
    outsider.groups.clear()
    assert _client(outsider).get("/").status_code == 403


def test_dashboard_speaks_chinese_by_default_and_english_on_request(reviewer_user):
    client = _client(reviewer_user)
    assert "按状态统计" in client.get("/").content.decode()
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert switched.status_code == 302
    assert "Items by status" in client.get("/").content.decode()


def test_only_admins_see_jobs_on_the_dashboard(admin_user, reviewer_user):
    assert "最近任务" in _client(admin_user).get("/").content.decode()
    assert "最近任务" not in _client(reviewer_user).get("/").content.decode()


def test_logout_is_a_post_with_csrf(reviewer_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer_user)
    assert client.post("/accounts/logout/").status_code == 403  # no CSRF token
    page = client.get("/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    assert client.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_item_counts_reload_for_reviewers_only(reviewer_user):
    make_item(status="in_review", categorization="person")
    assert Client().get("/items/counts/").status_code == 302
    outsider = make_user(role="reviewer", username="counts-outsider")
    outsider.groups.clear()
    assert _client(outsider).get("/items/counts/").status_code == 403
    fragment = _client(reviewer_user).get("/items/counts/").content.decode()
    assert '<td data-status="in_review">1</td>' in fragment
    assert "<html" not in fragment and "every 2s" not in fragment  # no job runs: no polling
