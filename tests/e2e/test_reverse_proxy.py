"""Slow clients: gunicorn's sync workers behind nginx, run with deploy/nginx.conf itself.

Half-sent requests (headers never finished, or a body that never comes) each hold a sync
worker for as long as gunicorn's --timeout; three of them stop the site. nginx reads every
request whole before passing it on, so /healthz still answers beside 50 of them. Both sides
are shown: straight to gunicorn /healthz does not answer, through nginx it does.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(settings.BASE_DIR)
NGINX_CONF = REPO_ROOT / "deploy" / "nginx.conf"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
IDLE_CONNECTIONS = 50
ANSWER_WITHIN = 5.0  # seconds
GUNICORN_WORKERS = 3  # as docker-compose.yml runs it
# Debian's nginx-light (scripts/ensure_services.sh installs it); /usr/sbin is not on every PATH.
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def _get(url: str, timeout: float) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status


def _wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if _get(url, timeout=2) == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def _compose_web_command() -> str:
    """The gunicorn options docker-compose.yml gives the web service."""
    text = COMPOSE_FILE.read_text()
    match = re.search(r"gunicorn vad_review\.wsgi:application ([^\"\n]*)", text)
    assert match, "docker-compose.yml runs gunicorn for web"
    return match.group(1)


@pytest.fixture
def gunicorn(tmp_path):
    port = _free_port()
    options = _compose_web_command().split()
    bind = options.index("--bind")
    options[bind + 1] = f"127.0.0.1:{port}"
    assert options[options.index("--workers") + 1] == str(GUNICORN_WORKERS)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
    }
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "vad_review.wsgi:application", *options],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", process, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def render_nginx_conf(directory: Path, *, upstream_port: int, listen_port: int) -> Path:
    """deploy/nginx.conf with only its two "test:" lines swapped for local addresses and
    temporary paths an unprivileged nginx can write."""
    text = NGINX_CONF.read_text()
    swaps = {
        r"server web:8000;.*# test:.*": f"server 127.0.0.1:{upstream_port};",
        r"listen 80;.*# test:.*": f"listen 127.0.0.1:{listen_port};",
    }
    for pattern, replacement in swaps.items():
        text, count = re.subn(pattern, replacement, text)
        assert count == 1, pattern
    configure = subprocess.run([NGINX, "-V"], capture_output=True, text=True).stderr
    temp_paths = ["client_body", "proxy"] + [
        module
        for module in ("fastcgi", "uwsgi", "scgi")
        if f"--without-http_{module}_module" not in configure
    ]
    paths = "".join(f"    {m}_temp_path {directory}/{m}_temp;\n" for m in temp_paths)
    text = text.replace("http {\n", "http {\n" + paths, 1)
    conf = directory / "nginx.conf"
    conf.write_text(text)
    return conf


@pytest.fixture
def nginx(tmp_path, gunicorn):
    directory = tmp_path / "nginx"
    directory.mkdir()
    directory.chmod(0o777)  # worker processes may run as another user
    port = _free_port()
    conf = render_nginx_conf(directory, upstream_port=gunicorn, listen_port=port)
    log = directory / "error.log"
    globals_ = f"daemon off; pid {directory}/nginx.pid; error_log {log};"
    check = subprocess.run(
        [NGINX, "-t", "-p", str(directory), "-e", str(log), "-c", str(conf), "-g", globals_],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    with (directory / "access.log").open("w") as out:
        process = subprocess.Popen(
            [NGINX, "-p", str(directory), "-e", str(log), "-c", str(conf), "-g", globals_],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", process, log)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


HEADERS_CUT_SHORT = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"
BODY_CUT_SHORT = (
    b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 1000000\r\n\r\nusername=" + b"x" * 100
)


def half_sent_connections(port: int, requests: list[bytes]) -> list[socket.socket]:
    """Connections that send the start of a request and then wait, saying nothing more."""
    sockets = []
    for request in requests:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(request)
        sockets.append(s)
    time.sleep(0.5)  # let the server take them all
    return sockets


def time_healthz(port: int) -> float | None:
    """Seconds /healthz took, or None when it did not answer within ANSWER_WITHIN."""
    started = time.monotonic()
    try:
        assert _get(f"http://127.0.0.1:{port}/healthz", timeout=ANSWER_WITHIN) == 200
    except (TimeoutError, OSError):
        return None
    return time.monotonic() - started


def test_healthz_answers_through_nginx_beside_50_idle_half_sent_connections(gunicorn, nginx):
    # Half stop inside the headers; half announce a 1 MB form and send 100 bytes of it.
    idle = half_sent_connections(
        nginx, [HEADERS_CUT_SHORT, BODY_CUT_SHORT] * (IDLE_CONNECTIONS // 2)
    )
    try:
        through_nginx = time_healthz(nginx)
    finally:
        for s in idle:
            s.close()
    shown = "no answer" if through_nginx is None else f"{through_nginx:.3f} s"
    print(f"\n/healthz through nginx beside {IDLE_CONNECTIONS} half-sent connections: {shown}")
    assert through_nginx is not None and through_nginx < ANSWER_WITHIN

    # Straight at gunicorn, one request cut short in its headers per sync worker holds them
    # all (a body cut short too, but only where a view reads it before answering).
    idle = half_sent_connections(gunicorn, [HEADERS_CUT_SHORT] * GUNICORN_WORKERS)
    try:
        direct = time_healthz(gunicorn)
    finally:
        for s in idle:
            s.close()
    shown = f"no answer within {ANSWER_WITHIN} s" if direct is None else f"{direct:.3f} s"
    print(f"/healthz straight to gunicorn beside {GUNICORN_WORKERS} half-sent connections: {shown}")
    assert direct is None, "gunicorn answered: the test no longer shows what nginx is for"


def test_the_compose_file_is_valid_and_puts_nginx_with_this_config_in_front():
    import yaml

    env = {**os.environ, "SECRET_KEY": "compose-check", "POSTGRES_PASSWORD": "compose-check"}
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is installed by scripts/ensure_services.sh"
    result = subprocess.run(
        [compose, "-f", str(COMPOSE_FILE), "config"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    nginx = services["nginx"]
    assert any(str(v).startswith(f"{NGINX_CONF}:/etc/nginx/nginx.conf") for v in nginx["volumes"])
    assert [p["target"] for p in nginx["ports"]] == [80]
    assert "ports" not in services["web"]  # only nginx is published
    assert services["web"]["environment"]["VAD_BEHIND_PROXY"] == "1"
    assert "proxy_set_header X-Real-IP $remote_addr;" in NGINX_CONF.read_text()
