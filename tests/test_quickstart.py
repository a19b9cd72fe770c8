"""`make run`'s set-up: the local settings file, read without exporting anything, and a start
on a busy port that changes nothing. The whole quick start runs in tests/e2e/test_quickstart.py.
"""

import json
import socket
import stat
import subprocess
import sys

from dotenv import dotenv_values

from tests.quickstart import REPO, SCRIPT, load_script, manage, new_user_env

quickstart = load_script()

_SHOW_SETTINGS = """
import json
from django.conf import settings
from django.core.cache import cache
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    journal = cursor.fetchone()[0]
cache.set("quickstart-probe", "seen by another process", 60)
print(json.dumps({
    "secret": settings.SECRET_KEY,
    "debug": settings.DEBUG,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "broker_options": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    "cache": settings.CACHES["default"],
    "database": settings.DATABASES["default"]["NAME"],
    "transaction_mode": connection.transaction_mode,
    "journal": journal,
    "ifd_model": settings.VAD_IFD_MODEL,
    "demo_models": settings.VAD_DEMO_MODELS,
}))
"""


def test_local_settings_are_generated_once_then_kept(tmp_path):
    first = quickstart.write_local_settings(tmp_path)
    path = tmp_path / "local.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first["SECRET_KEY"]) >= 50
    assert first["VAD_IFD_MODEL"] == first["VAD_DEMO_MODELS"] == str(tmp_path / "models/demo-ifd")
    assert quickstart.write_local_settings(tmp_path) == first
    assert dotenv_values(path) == first
    # A file from an older version lacks a key: only that key is added.
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if "REVIEWER_PASSWORD" not in line))
    again = quickstart.write_local_settings(tmp_path)
    assert again["SECRET_KEY"] == first["SECRET_KEY"]
    assert again["VAD_DEMO_ADMIN_PASSWORD"] == first["VAD_DEMO_ADMIN_PASSWORD"]
    assert again["VAD_DEMO_REVIEWER_PASSWORD"] != first["VAD_DEMO_REVIEWER_PASSWORD"]
    assert dotenv_values(path) == again


def test_manage_py_reads_the_local_settings_without_anything_exported(tmp_path):
    written = quickstart.write_local_settings(tmp_path)
    shown = json.loads(manage(tmp_path, "shell", "-c", _SHOW_SETTINGS).stdout.splitlines()[-1])
    assert shown["secret"] == written["SECRET_KEY"] and shown["debug"] is True
    assert shown["eager"] is False and shown["broker"].startswith("filesystem://")
    assert shown["broker_options"]["data_folder_in"] == str(tmp_path / "broker" / "queue")
    assert shown["broker_options"]["data_folder_out"] == str(tmp_path / "broker" / "queue")
    assert shown["broker_options"]["control_folder"] == str(tmp_path / "broker" / "control")
    assert shown["cache"]["BACKEND"].endswith("FileBasedCache")
    assert shown["cache"]["LOCATION"] == str(tmp_path / "cache")
    assert shown["database"] == str(tmp_path / "db.sqlite3")
    assert shown["journal"] == "wal" and shown["transaction_mode"] == "IMMEDIATE"
    assert shown["ifd_model"] == written["VAD_IFD_MODEL"]
    assert shown["demo_models"] == [written["VAD_IFD_MODEL"]]
    # Another process sees the cache (job progress published by a worker), and variables in
    # the environment win over the file.
    read_back = manage(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings; from django.core.cache import cache; "
        "print(cache.get('quickstart-probe'), settings.VAD_IFD_MODEL)",
        VAD_IFD_MODEL="/models/real",
    )
    assert read_back.stdout.splitlines()[-1] == "seen by another process /models/real"


def test_a_start_on_a_busy_port_changes_nothing(tmp_path):
    var = tmp_path / "var"
    written = quickstart.write_local_settings(var)
    before = (var / "local.env").read_text()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(SCRIPT), "--port", str(port)],
            cwd=REPO,
            env=new_user_env(var),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr and "make run PORT=" in result.stderr
    assert (var / "local.env").read_text() == before
    assert (
        dotenv_values(var / "local.env")["VAD_DEMO_ADMIN_PASSWORD"]
        == (written["VAD_DEMO_ADMIN_PASSWORD"])
    )
    assert not (var / "db.sqlite3").exists()  # not migrated, no demo loaded, no user touched
