"""Helpers for the quick-start tests: the `make run` script, and a new user's environment."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "quickstart.py"
# What the test settings (and a developer's shell) may have set; a new user has none of it.
_NOT_INHERITED = {"DATABASE_URL", "SECRET_KEY", "DEBUG", "TEST_REDIS_URL", "MEDIA_ROOT"}


def load_script():
    spec = importlib.util.spec_from_file_location("quickstart_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def new_user_env(var: Path, **extra: str) -> dict[str, str]:
    """The environment of someone who only typed `make run`: nothing exported, var/ moved to
    `var` (VAD_VAR_DIR, which stands for the checkout's var/ folder)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VAD_", "DJANGO_", "CELERY_", "PYTEST_")) and k not in _NOT_INHERITED
    }
    return {**env, "VAD_VAR_DIR": str(var), "PYTHONUNBUFFERED": "1", **extra}


def manage(var: Path, *args: str, timeout: float = 300, **extra_env: str):
    """`python manage.py ARGS` as a new user runs it; fails the test on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=new_user_env(var, **extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result
