"""The training child killed with SIGKILL (no handler runs, nothing is flushed), mid-checkpoint and at
random moments: `checkpoint.pth` is always a complete, loadable checkpoint, `--resume` continues
from it (the steps after it are redone), no temporary file is left behind after the resume, and the
run completes with every step accounted for.
"""
from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from detr_core.checkpoints import load_checkpoint, read_checkpoint_state

from test_train_cli import FAST, ROOT, _cmd, _env, _events
from test_train_helpers import shapes_dataset

EPOCHS = 3  # 2 steps per epoch on 4 images: checkpoints after steps 2, 4 and 6


@pytest.fixture(scope="module")
def train_json(tmp_path_factory):
    return shapes_dataset(tmp_path_factory.mktemp("kill") / "train", 4)


def _temporaries(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.name.startswith(".checkpoint.pth.") and p.name.endswith(".tmp")]


def _start(*args) -> subprocess.Popen:
    return subprocess.Popen(_cmd(*args), cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def _kill_when_the_next_checkpoint_is_being_written(proc: subprocess.Popen, out: Path,
                                                    timeout: float = 600) -> Path:
    """Once `out` holds a checkpoint, SIGKILL `proc` as soon as the temporary file of the next one
    appears (polled every half millisecond: torch.save of ~45 MB takes far longer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (out / "checkpoint.pth").exists():
            temporaries = _temporaries(out)
            if temporaries:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return temporaries[0]
        assert proc.poll() is None, "the run ended before it was killed"
        time.sleep(0.0005)
    proc.kill()
    raise AssertionError("no checkpoint was written in time")


def _resume(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd("--resume", "--out", out, "--workers", 0), cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=600)


def _check_completed(out: Path, total: int) -> None:
    events = _events(out / "metrics.jsonl")
    ends = [e for e in events if e["type"] == "end"]
    assert ends[-1]["status"] == "completed" and ends[-1]["step"] == total
    assert read_checkpoint_state(out / "checkpoint.pth")["state"]["step"] == total
    assert load_checkpoint(out / "model.pth").kind == "project"
    assert _temporaries(out) == []
    # Each resume starts where the last checkpoint before it ended: steps are redone, never skipped.
    done = 0
    for event in events:
        if event["type"] == "start":
            assert event["start_step"] <= done
            done = event["start_step"]
        elif event["type"] == "step":
            assert event["step"] == done + 1, (event, done)
            done = event["step"]
    assert done == total


@pytest.mark.slow
def test_killed_while_writing_a_checkpoint_then_resume_continues_from_the_last_good_one(train_json, tmp_path):
    out = tmp_path / "run"
    proc = _start("--train-json", train_json, "--epochs", EPOCHS, "--out", out, *FAST)
    temporary = _kill_when_the_next_checkpoint_is_being_written(proc, out)  # epoch 2's checkpoint
    assert proc.returncode == -signal.SIGKILL
    assert temporary.exists(), "the kill came after the new checkpoint was in place"
    state = read_checkpoint_state(out / "checkpoint.pth")["state"]  # the previous one, complete
    assert state["step"] == 2 and state["epoch"] == 1
    done = _resume(out)
    assert done.returncode == 0, done.stderr[-3000:]
    starts = [e for e in _events(out / "metrics.jsonl") if e["type"] == "start"]
    assert starts[-1]["resumed"] and starts[-1]["start_step"] == 2
    assert not temporary.exists(), "the killed run's temporary file was left behind"
    _check_completed(out, 2 * EPOCHS)


@pytest.mark.slow
def test_killed_at_random_moments_then_resumed_until_done(train_json, tmp_path):
    rng = random.Random(20261201)
    out = tmp_path / "run"
    proc = _start("--train-json", train_json, "--epochs", EPOCHS, "--out", out, "--jsonl", *FAST)
    for line in proc.stdout:  # a fresh run needs its first checkpoint before it can be resumed
        if json.loads(line)["type"] == "checkpoint":
            break
    kills = []
    for attempt in range(3):
        delay = rng.uniform(0.0, 8.0)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills.append(round(delay, 2))
        if proc.returncode == 0:
            break
        state = read_checkpoint_state(out / "checkpoint.pth")["state"]  # always complete
        assert 2 <= state["step"] <= 2 * EPOCHS
        proc = _start("--resume", "--out", out, "--workers", 0)
    proc.communicate(timeout=600)
    assert proc.returncode == 0
    _check_completed(out, 2 * EPOCHS)
    print(f"\nkilled at {kills} s after (re)starting")
