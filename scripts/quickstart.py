"""`make run`: the app with demo data and a real worker beside it; no Redis, no PostgreSQL.

In this order, so that a start that cannot work changes nothing:

1. check that the port is free (a port in use stops here, before anything is written);
2. write the local settings file var/local.env once: a generated SECRET_KEY, DEBUG, the
   filesystem broker (and so the file cache), the demo scoring model and passwords (later
   runs add keys a newer version needs and keep every value already there);
3. build the demo scoring model once (random weights, scoring/toy.py) into var/models/;
4. `manage.py migrate` and `manage.py load_demo` (which prints the demo passwords);
5. run `manage.py runserver` and a Celery worker (with beat) side by side until Ctrl-C or
   SIGTERM, which stops both; if either exits on its own, the other is stopped too.

`--setup-only` stops after step 4 (to prepare a checkout ahead of time). VAD_VAR_DIR moves var/.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dotenv import dotenv_values

REPO = Path(__file__).resolve().parents[1]
STOP_TIMEOUT_SECONDS = 15
HEADER = """\
# The quick start's local settings, written by `make run` (scripts/quickstart.py) and read
# by vad_review/settings.py. Environment variables win over these lines. Keep this file
# private (it holds a secret key and passwords); delete it to start over with new ones.
"""


def var_dir() -> Path:
    return Path(os.environ.get("VAD_VAR_DIR") or REPO / "var").resolve()


def port_in_use(host: str, port: int) -> str | None:
    """Why (host, port) cannot be served, or None when it is free."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        return f"{host}: {exc}"
    with socket.socket(family, kind, proto) as probe:
        # As the server will: a port left in TIME_WAIT by a previous run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return f"{host}:{port}: {exc.strerror or exc}"
    return None


def local_settings(var: Path) -> dict[str, str]:
    """The quick start's settings: generated once, then kept as they are in var/local.env."""
    model = var / "models" / "demo-ifd"
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "1",
        # The cache follows: files under var/cache beside this broker (settings.py), process
        # memory for a script run with VAD_TASKS_EAGER=1, as the benches are.
        "CELERY_BROKER_URL": "filesystem://localhost//",
        "VAD_IFD_MODEL": str(model),
        "VAD_DEMO_MODELS": str(model),
        "VAD_DEMO_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "VAD_DEMO_REVIEWER_PASSWORD": secrets.token_urlsafe(12),
    }


def write_local_settings(var: Path) -> dict[str, str]:
    """Create var/local.env, or add only the keys it lacks; return what it holds."""
    path = var / "local.env"
    var.mkdir(parents=True, exist_ok=True)
    existing = {k: v for k, v in dotenv_values(path).items() if v is not None}
    missing = {k: v for k, v in local_settings(var).items() if k not in existing}
    if missing:
        text = path.read_text("utf-8") if path.exists() else HEADER
        if text and not text.endswith("\n"):
            text += "\n"
        text += "".join(f"{key}={value}\n" for key, value in missing.items())
        # Written to a new file and renamed, readable by this user only.
        partial = path.with_name("local.env.partial")
        partial.write_text(text, "utf-8")
        partial.chmod(0o600)
        partial.replace(path)
    return {**existing, **missing}


def child_env(var: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # make run is the worker-beside-the-server setup: an eager flag left in the shell would
    # run every job inside web requests instead.
    env.pop("VAD_TASKS_EAGER", None)
    env.setdefault("DJANGO_SETTINGS_MODULE", "vad_review.settings")
    if "VAD_VAR_DIR" in os.environ:
        env["VAD_VAR_DIR"] = str(var)
    return env


def run_step(args: list[str], env: dict[str, str]) -> None:
    print("$", " ".join(args[1:]), flush=True)
    result = subprocess.run(args, cwd=REPO, env=env, check=False)
    if result.returncode != 0:
        sys.exit(f"quickstart: {' '.join(args[1:3])} failed (exit status {result.returncode})")


def set_up(var: Path) -> dict[str, str]:
    values = write_local_settings(var)
    env = child_env(var)
    python = sys.executable
    model = Path(values.get("VAD_IFD_MODEL", ""))
    demo_models = values.get("VAD_DEMO_MODELS", "").split(",")
    if str(model) in demo_models and not (model / "config.json").is_file():
        run_step([python, "-m", "scoring.toy", str(model)], env)
    run_step([python, "manage.py", "migrate", "--noinput"], env)
    run_step([python, "manage.py", "load_demo"], env)
    return env


def web_command(host: str, port: int) -> list[str]:
    return [sys.executable, "manage.py", "runserver", "--noreload", f"{host}:{port}"]


def worker_command(var: Path) -> list[str]:
    """One process, one task at a time: the scoring model is loaded once and kept; beat
    runs the periodic tasks, if any are configured."""
    return [
        sys.executable, "-m", "celery", "-A", "vad_review", "worker",
        "-Q", "gpu,default", "-P", "solo", "-c", "1", "-l", "INFO",
        "-n", "quickstart@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-B", "-s", str(var / "celerybeat-schedule"),
    ]  # fmt: skip


def serve(host: str, port: int, var: Path, env: dict[str, str]) -> int:
    """Run the web server and a worker until a signal or until one of them exits."""
    commands = {"web": web_command(host, port), "worker": worker_command(var)}
    stop = {"signal": None}
    processes: dict[str, subprocess.Popen] = {}

    def on_signal(signum, _frame):
        if stop["signal"] is not None:  # a second Ctrl-C: do not wait for a running task
            for process in processes.values():
                _signal_group(process, signal.SIGKILL)
        stop["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # Each child leads a process group of its own, so the worker's beat process and anything
    # else a child starts are stopped with it, and Ctrl-C reaches the children only through
    # this supervisor (never half of them).
    for name, command in commands.items():
        processes[name] = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)
    print(f"\nVAD Review: http://{host}:{port}/  (web server and worker; Ctrl-C stops both)")
    # Said again here, as the servers' logs will soon push load_demo's lines out of sight.
    values = dotenv_values(var / "local.env")
    for role in ("admin", "reviewer"):
        if password := values.get(f"VAD_DEMO_{role.upper()}_PASSWORD"):
            print(f"  {role} / {password}")
    print(f"  (kept in {var / 'local.env'})\n", flush=True)
    exited = None
    while stop["signal"] is None and exited is None:
        exited = next((n for n, p in processes.items() if p.poll() is not None), None)
        time.sleep(0.2)
    if exited is not None:
        print(f"quickstart: the {exited} process exited; stopping the rest", file=sys.stderr)
    for process in processes.values():
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"quickstart: the {name} process did not stop; killing it", file=sys.stderr)
            _signal_group(process, signal.SIGKILL)
            process.wait()
    if exited is not None:
        return processes[exited].returncode or 1
    return 0


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has exited already
        os.killpg(process.pid, signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--setup-only", action="store_true", help="set up, then exit")
    options = parser.parse_args(argv)
    var = var_dir()
    if not options.setup_only:
        busy = port_in_use(options.host, options.port)
        if busy:
            print(
                f"quickstart: cannot serve on {busy}.\n"
                f"Nothing was changed. Choose another port: make run PORT=8080",
                file=sys.stderr,
            )
            return 2
    env = set_up(var)
    if options.setup_only:
        return 0
    return serve(options.host, options.port, var, env)


if __name__ == "__main__":
    sys.exit(main())
