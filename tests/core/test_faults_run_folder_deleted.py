"""A job's run folder deleted while the training child runs: the job fails with one line naming the
folder and a non-zero exit code, prints no traceback, and leaves the user's annotation files and
images untouched."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from test_train_cli import FAST, ROOT, _cmd, _env, _sha
from test_train_helpers import shapes_dataset


@pytest.mark.slow
def test_deleting_the_run_folder_mid_run_fails_in_one_line(tmp_path):
    train = shapes_dataset(tmp_path / "data", 4)
    user_files = {p: _sha(p) for p in train.parent.rglob("*") if p.is_file()}
    out = tmp_path / "runs" / "job 1"
    proc = subprocess.Popen(_cmd("--train-json", train, "--epochs", 3, "--out", out, "--jsonl", *FAST), cwd=ROOT,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["type"] == "step":  # running: the folder holds run.json and metrics.jsonl
            shutil.rmtree(out)
            break
    rest, err = proc.communicate(timeout=600)
    events += [json.loads(line) for line in rest.splitlines()]
    assert proc.returncode == 1, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("detr-workbench train: error: ") and str(out) in last, last
    assert "deleted" in last, last
    assert events[-1]["type"] == "error" and str(out) in events[-1]["message"]
    assert not out.exists(), "the deleted run folder was created again"
    assert {p: _sha(p) for p in user_files} == user_files
    assert sorted(p for p in train.parent.rglob("*") if p.is_file()) == sorted(user_files)
