"""bench/ifd.py is what a session with a GPU runs first: it must run end to end and agree."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.ifd import peak_for_device_name

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("device_name", "peak"),
    [
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H100 NVL", 835.0),
        ("NVIDIA H200", 989.0),
        ("NVIDIA H200 NVL", 835.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA GeForce RTX 4090", None),
    ],
)
def test_the_peak_is_the_most_specific_match_of_the_device_name(device_name, peak):
    assert peak_for_device_name(device_name) == peak


@pytest.mark.slow
def test_the_benchmark_runs_on_the_cpu_and_its_methods_agree():
    arguments = [
        "--pairs",
        "6",
        "--reference-pairs",
        "3",
        "--rounds",
        "1",
        "--skip-cherry",
        "--threads",
        "1",
    ]
    done = subprocess.run(
        [sys.executable, "bench/ifd.py", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr

    out = done.stdout
    rates = dict(re.findall(r"^(reference|compute_ifd)\b.*? = ([0-9.]+) pairs/s", out, re.M))
    assert set(rates) == {"reference", "compute_ifd"}
    assert all(float(rate) > 0 for rate in rates.values())
    delta = re.search(r"max \|delta ifd\| vs reference over 3 pairs: (\S+)", out)
    assert delta is not None and float(delta.group(1)) <= 1e-4
    assert "FLOPs counted: 2 * " in out
    assert re.search(r"CPU ceiling: .* run at [0-9]+ GFLOP/s on 1 cores", out)
