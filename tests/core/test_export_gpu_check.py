"""The GPU check script exits cleanly, with a message, where there is no CUDA (here, and on a GPU
machine with its devices hidden)."""
from __future__ import annotations

import pytest

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_without_cuda_says_so_and_exits_0():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "tests.benchmarks.gpu_check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("gpu_check: no CUDA device here")
    assert "nothing to check" in result.stdout and "Traceback" not in result.stderr
