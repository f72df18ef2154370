"""`detr-workbench train` end to end: run folders, the JSON-lines stream on stdout and in
metrics.jsonl, resume, a clean stop on SIGTERM (exit code 3), errors as events, and a disk that
fills up while checkpointing (the previous checkpoint survives)."""
from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from detr_core.checkpoints import load_checkpoint, read_checkpoint_state
from detr_core.cli.main import main

from test_train_helpers import shapes_dataset

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--config", "tiny", "--resolution", "256", "--batch-size", "2", "--workers", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    return shapes_dataset(folder / "train", 4), shapes_dataset(folder / "val", 2, seed=8)


def _cmd(*args) -> list[str]:
    return [sys.executable, "-m", "detr_core", "train", *map(str, args)]


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_jsonl_on_stdout_equals_metrics_file_and_resume_extends_the_run(shapes, tmp_path):
    train, val = shapes
    out = tmp_path / "run"
    proc = subprocess.run(_cmd("--train-json", train, "--val-json", val, "--epochs", 1, "--out", out, "--jsonl",
                               *FAST), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stdout_events = [json.loads(line) for line in proc.stdout.splitlines()]  # nothing but JSON
    assert stdout_events == _events(out / "metrics.jsonl")
    assert [e["type"] for e in stdout_events if e["type"] != "step"] == [
        "start", "warning", "eval", "epoch", "checkpoint", "end"]
    assert "validation after epoch 1" in proc.stderr and "AP50" in proc.stderr
    assert json.loads((out / "run.json").read_text())["train_json"] == str(train)
    loaded = load_checkpoint(out / "model.pth")
    assert loaded.class_names == ["circle", "square", "triangle", "star", "cross"]
    assert loaded.metadata["category_ids"] == [1, 2, 3, 4, 5] and loaded.config.min_size == 256

    # An existing run folder is refused without --resume or --overwrite ...
    assert main(["train", "--train-json", str(train), "--out", str(out), *FAST]) == 1
    # ... --resume continues it (arguments from run.json) for one more epoch
    assert main(["train", "--resume", "--out", str(out), "--epochs", "2", "--workers", "0"]) == 0
    events = _events(out / "metrics.jsonl")
    starts = [e for e in events if e["type"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed"] and starts[1]["start_step"] == 2 and starts[1]["start_epoch"] == 2
    assert [e["step"] for e in events if e["type"] == "step"] == [1, 2, 3, 4]
    assert read_checkpoint_state(out / "checkpoint.pth")["state"]["step"] == 4
    # --overwrite starts again from nothing
    assert main(["train", "--train-json", str(train), "--out", str(out), "--epochs", "1", "--overwrite", *FAST]) == 0
    assert [e["type"] for e in _events(out / "metrics.jsonl")].count("start") == 1


def test_refusals_are_one_line_errors(shapes, tmp_path, capsys):
    train, _ = shapes
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert main(["train", "--train-json", str(train), "--out", str(tmp_path / "busy"), *FAST]) == 1
    assert "run folder exists; use --resume to continue it or --overwrite" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(tmp_path / "empty")]) == 1
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["train", "--train-json", str(train), "--out", str(tmp_path / "x"), "--checkpoint", "a.pth",
                 "--config", "tiny"]) == 1
    assert "--config is for training from scratch" in capsys.readouterr().err
    assert main(["train", "--train-json", str(train), "--out", str(tmp_path / "y"), "--config", "huge"]) == 1
    assert "unknown config 'huge'" in capsys.readouterr().err


def test_missing_images_stop_with_an_error_event(shapes, tmp_path, capsys):
    data = json.loads(shapes[0].read_text())
    data["images"][1]["file_name"] = "gone.jpg"
    broken = shapes[0].parent / "broken.json"
    broken.write_text(json.dumps(data))
    out = tmp_path / "run"
    assert main(["train", "--train-json", str(broken), "--out", str(out), *FAST]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"detr-workbench train: error: {broken}: 1 of 4 images are missing") and "gone.jpg" in err[-1]
    error = _events(out / "metrics.jsonl")[-1]
    assert error["type"] == "error" and error["kind"] == "data" and "gone.jpg" in error["message"]


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_exits_3_then_resume_completes(shapes, tmp_path):
    train, _ = shapes
    out = tmp_path / "run"
    proc = subprocess.Popen(_cmd("--train-json", train, "--epochs", 3, "--out", out, "--jsonl", *FAST),
                            cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(json.loads(line))
        if lines[-1]["type"] == "step":
            proc.send_signal(signal.SIGTERM)
            break
    rest, err = proc.communicate(timeout=300)
    lines += [json.loads(line) for line in rest.splitlines()]
    assert proc.returncode == 3, err[-2000:]
    assert lines[-2]["type"] == "checkpoint" and lines[-2]["reason"] == "stopped"
    assert lines[-1]["type"] == "end" and lines[-1]["status"] == "stopped"
    stopped_at = lines[-1]["step"]
    assert 1 <= stopped_at < 6
    assert read_checkpoint_state(out / "checkpoint.pth")["state"]["step"] == stopped_at
    done = subprocess.run(_cmd("--resume", "--out", out, "--workers", 0), cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    steps = [e["step"] for e in _events(out / "metrics.jsonl") if e["type"] == "step"]
    assert steps == list(range(1, 7))


def _limit_file_size(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.slow
def test_a_full_disk_while_checkpointing_keeps_the_previous_checkpoint(shapes, tmp_path):
    train, _ = shapes
    out = tmp_path / "run"
    assert main(["train", "--train-json", str(train), "--epochs", "1", "--out", str(out), *FAST]) == 0
    checkpoint = out / "checkpoint.pth"
    before = _sha(checkpoint)
    # The next checkpoint cannot be written: files may grow to half its size, as on a full disk.
    proc = subprocess.run(_cmd("--resume", "--out", out, "--epochs", 2, "--workers", 0), cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=600,
                          preexec_fn=_limit_file_size(checkpoint.stat().st_size // 2))
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"detr-workbench train: error: cannot save {checkpoint}: File too large")
    assert _sha(checkpoint) == before
    assert read_checkpoint_state(checkpoint)["state"]["step"] == 2
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    error = _events(out / "metrics.jsonl")[-1]
    assert error["type"] == "error" and error["kind"] == "checkpoint" and error["checkpoint"] == str(checkpoint)
