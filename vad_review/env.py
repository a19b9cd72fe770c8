"""Reading settings from environment variables: typed, with defaults for unset or empty ones."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def cache_from_url(url: str, *, files: Path, prefix: str) -> dict:
    """A Django cache from VAD_CACHE_URL: `locmem://` (one process), `file://` (`files`, or
    `file:///a/folder`: processes on one machine), otherwise a Redis URL."""
    if url.startswith("locmem://"):
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if url.startswith("file://"):
        return {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": url.removeprefix("file://") or str(files),
        }
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": prefix,
    }


def filesystem_broker_folders(root: Path) -> dict:
    """kombu's filesystem transport options for a queue under `root`, folders made."""
    queue, control = root / "queue", root / "control"
    for folder in (queue, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(control),
    }


def database_from_url(url: str | None, *, var_dir: Path) -> dict:
    """The database from DATABASE_URL (PostgreSQL in production and tests), else SQLite in
    `var_dir` for the quick start, where the web server and a worker process share it."""
    database = dj_database_url.parse(
        url or f"sqlite:///{var_dir / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
    options = database.setdefault("OPTIONS", {})
    if not database["ENGINE"].endswith("sqlite3"):
        options.update(postgres_statement_options())
        return database
    # WAL lets pages read while the worker writes; IMMEDIATE takes the write lock when a
    # transaction begins, so two writers wait for each other (up to `timeout` seconds)
    # instead of one failing with "database is locked" when it upgrades a read lock.
    Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    options.update(
        timeout=30,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    )
    database["CONN_MAX_AGE"] = 0
    return database


def postgres_statement_options() -> dict:
    """psycopg options: parameters bound by the server, and statements prepared once a
    connection has run them DATABASE_PREPARE_THRESHOLD times (default 5; `off` for a pooler
    in transaction mode, which cannot keep a connection's prepared statements).

    Prepared, a statement skips PostgreSQL's planning, which with the item table's indexes
    cost more than running the review queries: a review decision (claim, panel, accept) took
    24.5 ms in one process with Django's defaults, 20.8 ms prepared (bench/review_load.py).
    """
    threshold = os.environ.get("DATABASE_PREPARE_THRESHOLD", "").strip().lower() or "5"
    if threshold in {"off", "none", "no", "false"}:
        return {}
    if not threshold.isdigit():
        raise ImproperlyConfigured(
            f"DATABASE_PREPARE_THRESHOLD must be a whole number or 'off', not {threshold!r}"
        )
    return {"server_side_binding": True, "prepare_threshold": int(threshold)}
