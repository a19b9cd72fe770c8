"""Shared fixtures. Django-side imports stay inside the fixtures, so the numeric-core tests
under tests/scoring also run where only torch and transformers are installed."""

import pytest


def _api_client(user=None):
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture(autouse=True)
def _empty_cache():
    """Job progress lives in Redis, outside the test database's rollback: without this, a
    job of one test would show the progress an earlier test published for the same id."""
    try:
        from django.core.cache import cache
    except ImportError:  # the numeric-core tests, run where Django is not installed
        yield
        return
    cache.clear()
    yield


@pytest.fixture
def admin_user(db):
    from tests.factories import make_user

    return make_user(role="admin")


@pytest.fixture
def reviewer_user(db):
    from tests.factories import make_user

    return make_user(role="reviewer")


@pytest.fixture
def admin_api(admin_user):
    return _api_client(admin_user)


@pytest.fixture
def reviewer_api(reviewer_user):
    return _api_client(reviewer_user)


@pytest.fixture
def anon_api():
    return _api_client()
