import pytest
from rest_framework.test import APIClient

from tests.factories import make_user


@pytest.fixture
def admin_user(db):
    return make_user(role="admin")


@pytest.fixture
def reviewer_user(db):
    return make_user(role="reviewer")


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.fixture
def reviewer_api(reviewer_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(reviewer_user)
    return client


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()
