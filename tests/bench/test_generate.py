"""bench/generate.py runs end to end on the CPU without Django, and batching changes no greedy
answer."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_generation_benchmark_runs_on_the_cpu_and_agrees():
    arguments = ["--prompts", "6", "--new-tokens", "4", "--batch-size", "3", "--threads", "1"]
    # As on a bare GPU box: importing Django or our apps fails outright.
    blocked = (
        "import runpy, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'django', 'rest_framework', 'celery',"
        " 'annotation', 'pipeline'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"sys.argv = ['bench/generate.py', *{arguments!r}]\n"
        "runpy.run_path('bench/generate.py', run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocked],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^batched \(batch size 3.*= [0-9.]+ items/s, [0-9]+ new tokens/s", out, re.M)
    assert re.search(r"^one at a time: .* for 6 = [0-9.]+ items/s", out, re.M)
    assert re.search(r"^ratio batched / one at a time: [0-9.]+x \(wall\)", out, re.M)
    assert "identical greedy answers, batched vs one at a time: 6/6" in out
