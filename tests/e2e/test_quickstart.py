"""The quick start as a new user runs it, on SQLite in a temporary var/ folder, with nothing
exported: `make run`'s script sets up (local settings, demo model, migrate, demo data) and
serves the app with a real Celery worker on the filesystem broker beside it. Beside it, the
demo loads a second time without duplicates, a file is imported, the worker scores the
candidates with the demo model, IFD selection and an export follow, all through the real
management commands. The pages say the scores come from a demo model; a second start on the
busy port changes nothing; Ctrl-C stops the web server and the worker together."""

import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import psutil
import pytest
from dotenv import dotenv_values

from annotation.hashing import VAD_FIELDS
from tests.factories import vad_record
from tests.quickstart import REPO, SCRIPT, manage, new_user_env

pytestmark = pytest.mark.slow

IMPORTED = 30


def _query(var: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(f"file:{var / 'db.sqlite3'}?mode=ro", uri=True) as db:
        return db.execute(sql, params).fetchall()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer:\n{log.read_text()}")


def _log_in(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    form = opener.open(f"{base}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = {"username": username, "password": password, "csrfmiddlewaretoken": token}
    request = urllib.request.Request(
        f"{base}/accounts/login/",
        data=urllib.parse.urlencode(data).encode(),
        headers={"Referer": f"{base}/accounts/login/"},
    )
    with opener.open(request) as response:
        assert urllib.parse.urlparse(response.url).path == "/", "login failed"
    return opener


COUNTS = "SELECT count(*) FROM annotation_item UNION ALL SELECT count(*) FROM annotation_job"


def test_the_quick_start_from_set_up_to_export(tmp_path):
    var = tmp_path / "var"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "make-run.log"
    with log.open("w") as output:
        run = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--port", str(port)],
            cwd=REPO, env=new_user_env(var), stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    children = []
    try:
        _wait_for(f"{base}/healthz", run, log)
        children = psutil.Process(run.pid).children(recursive=True)
        assert any("celery" in " ".join(c.cmdline()) for c in children)
        local = dotenv_values(var / "local.env")
        model = local["VAD_IFD_MODEL"]
        assert (Path(model) / "config.json").is_file() and local["VAD_DEMO_MODELS"] == model
        assert f"admin:    admin / {local['VAD_DEMO_ADMIN_PASSWORD']}" in log.read_text()
        queue = dict(
            _query(
                var,
                "SELECT source, count(*) FROM annotation_item WHERE status = 'in_review' "
                "GROUP BY source",
            )
        )
        assert queue == {"manual": 4, "synthetic": 4, "translated": 4}

        # The demo again: nothing duplicated, no new job, the same passwords.
        counts = _query(var, COUNTS)
        again = manage(var, "load_demo")
        assert f"reviewer: reviewer / {local['VAD_DEMO_REVIEWER_PASSWORD']}" in again.stdout
        assert _query(var, COUNTS) == counts

        records = tmp_path / "mine.jsonl"
        records.write_text(
            "\n".join(
                json.dumps(vad_record(n, categorization=""), ensure_ascii=False)
                for n in range(IMPORTED)
            ),
            "utf-8",
        )
        manage(var, "import_items", "--format", "vad", str(records))
        candidates = _query(var, "SELECT count(*) FROM annotation_item WHERE status = 'candidate'")
        assert candidates == [(IMPORTED + 24,)]

        # Scoring runs on the worker `make run` started (the command only queues and waits).
        scored = manage(var, "run_pipeline", "score")
        assert re.search(r"score job \d+ succeeded", scored.stdout), scored.stdout
        assert "Task pipeline.tasks.score_chunk" in log.read_text()
        by_status = _query(
            var,
            "SELECT status, count(*) FROM annotation_item WHERE ifd_model = ? GROUP BY status",
            model,
        )
        assert by_status == [("scored", IMPORTED + 24)]

        manage(var, "run_pipeline", "filter", "--keep-top", "0.5")
        kept = _query(
            var,
            "SELECT count(*) FROM annotation_item WHERE status = 'in_review' AND ifd_model = ?",
            model,
        )[0][0]
        assert 0 < kept <= (IMPORTED + 24) / 2

        out = tmp_path / "queue.jsonl"
        manage(var, "export_items", "--format", "jsonl", "--status", "in_review", str(out))
        exported = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
        assert len(exported) == 12 + kept
        assert all(list(record) == list(VAD_FIELDS) for record in exported)

        # The pages say the scores mean nothing, and the job table marks the demo score job.
        admin = _log_in(base, "admin", local["VAD_DEMO_ADMIN_PASSWORD"])
        dashboard = admin.open(f"{base}/").read().decode()
        assert 'id="demo-notice"' in dashboard and "演示模型" in dashboard

        # A second start on the busy port: refused, and the passwords still work.
        busy = subprocess.run(
            [sys.executable, str(SCRIPT), "--port", str(port)],
            cwd=REPO, env=new_user_env(var), capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert busy.returncode == 2 and "make run PORT=" in busy.stderr
        assert dotenv_values(var / "local.env") == local
        reviewer = _log_in(base, "reviewer", local["VAD_DEMO_REVIEWER_PASSWORD"])
        # The review page claims an item on SQLite too, and a reload shows the one held.
        first = re.search(r'data-item-id="(\d+)"', reviewer.open(f"{base}/review/").read().decode())
        again = re.search(r'data-item-id="(\d+)"', reviewer.open(f"{base}/review/").read().decode())
        assert first and again and first.group(1) == again.group(1)
        held = _query(
            var, "SELECT u.username FROM annotation_item i JOIN auth_user u ON u.id = "
            "i.claimed_by_id WHERE i.id = ? AND i.claim_expires_at IS NOT NULL", first.group(1)
        )  # fmt: skip
        assert held == [("reviewer",)]
    finally:
        run.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            returncode = run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
            raise
        for child in children:
            try:
                child.wait(timeout=10)
            except psutil.TimeoutExpired:
                child.kill()
                raise AssertionError(f"{child.cmdline()} outlived Ctrl-C") from None
    assert returncode == 0, log.read_text()
