"""Settings for the test suite: real PostgreSQL and Redis, one Redis database per xdist worker."""

import os

_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_index = int(_worker[2:]) if _worker[2:].isdigit() else 0
_redis = f"redis://127.0.0.1:6379/{15 - _index}"

os.environ.setdefault("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/vad_review")
os.environ.setdefault("SECRET_KEY", "test-only-secret-not-used-anywhere-else")
os.environ.setdefault("CELERY_BROKER_URL", _redis)
os.environ.setdefault("VAD_CACHE_URL", _redis)
os.environ.setdefault("VAD_TASKS_EAGER", "1")
os.environ.setdefault("VAD_VAR_DIR", f"/tmp/vad-review-tests-{_worker}")

from vad_review.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
