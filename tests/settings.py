"""Settings for the test suite: real PostgreSQL and Redis, Redis databases per xdist worker."""

import os

_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_index = int(_worker[2:]) if _worker[2:].isdigit() else 0
# TEST_REDIS_URL lets two checkouts run their suites at once on one machine, each against a
# Redis server of its own (their workers would otherwise take each other's tasks).
_redis_server = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
_redis = f"{_redis_server}/{15 - _index % 8}"
# The cache (job progress) has a database of its own, so each test can start from an empty
# one without touching the broker's queues (tests/conftest.py).
_redis_cache = f"{_redis_server}/{7 - _index % 8}"

# Under xdist pytest-django names each worker's database; a plain run gets its own name so
# that two runs on one machine (developers, helpers) never drop each other's database.
_db_name = "vad_review" if "PYTEST_XDIST_WORKER" in os.environ else f"vad_review_p{os.getpid()}"
if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = f"postgres://postgres:postgres@127.0.0.1:5432/{_db_name}"
os.environ.setdefault("SECRET_KEY", "test-only-secret-not-used-anywhere-else")
# Assigned, not defaulted: xdist workers inherit the environment of the controller, which
# imported these settings first (as "gw0"), so a default would give every worker gw0's.
os.environ["CELERY_BROKER_URL"] = _redis
os.environ["VAD_CACHE_URL"] = _redis_cache
os.environ.setdefault("VAD_TASKS_EAGER", "1")
os.environ.setdefault("VAD_VAR_DIR", f"/tmp/vad-review-tests-{_worker}")

from vad_review.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Static files come straight from the source folders: nothing is collected for tests.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
