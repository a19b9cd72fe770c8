"""Each xdist worker has Redis databases of its own (tests/settings.py)."""

import os

from django.conf import settings


def test_this_worker_uses_its_own_redis_databases():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) % 8
    assert settings.CELERY_BROKER_URL.endswith(f"/{15 - index}")
    assert settings.CACHES["default"]["LOCATION"].endswith(f"/{7 - index}")
