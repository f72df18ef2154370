"""Sharded pre-labelling: 2 shard processes (one killed half-way and rerun) merge into exactly what
one process writes; vanished images are recorded as failed; shards of different checkpoints are
refused; the shard arithmetic and file format."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from detr_core.cli.main import main
from detr_core.errors import DatasetError, WorkbenchError
from detr_core.infer.shards import FORMAT, ImageKey, Shard, ShardWriter, merge_shards, read_records

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "models" / "demo.pth"
SAMPLES = sorted((ROOT / "resources" / "samples" / "images").glob("*.jpg"))


@pytest.fixture()
def folder(tmp_path):
    """The 24 samples in a/, and again in b/."""
    root = tmp_path / "images"
    for copy in ("a", "b"):
        (root / copy).mkdir(parents=True)
        for p in SAMPLES:
            shutil.copy(p, root / copy / p.name)
    return root


def _detect(*args: str) -> list[str]:
    return [sys.executable, "-m", "detr_core", "detect", *args]


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_two_shards_one_killed_and_rerun_merge_to_the_single_process_result(folder, tmp_path):
    images = folder / "a"  # the 24 samples: 12 per shard
    common = [str(images), "-c", str(DEMO), "--device", "cpu", "--keep-low-scores"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sharded = tmp_path / "sharded"
    procs = [subprocess.Popen(_detect(*common, "--out-dir", str(sharded), "--shard", f"{i}/2"), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(2)]
    victim = sharded / "shard-00001-of-00002.jsonl"
    deadline = time.monotonic() + 300
    while _lines(victim) < 3 and procs[1].poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    procs[1].send_signal(signal.SIGKILL)
    procs[1].wait(timeout=60)
    assert procs[1].returncode == -signal.SIGKILL, "shard 1 finished before it could be killed"
    assert procs[0].wait(timeout=600) == 0, procs[0].stderr.read()
    done_before = _lines(victim)
    assert 3 <= done_before < 12  # killed half-way
    with open(victim, "ab") as f:  # and as if the kill tore the line being written
        f.write(b'{"format": 1, "index": 99, "file_na')

    rerun = subprocess.run(_detect(*common, "--out-dir", str(sharded), "--shard", "1/2"), env=env,
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{12 - done_before} done, {done_before} already done, 0 failed" in rerun.stderr
    merged = tmp_path / "merged.json"
    assert main(["coco", "merge-results", str(sharded), "--out", str(merged)]) == 0

    single = tmp_path / "single.json"  # one process, no shards: `detect --out`
    assert main(["detect", *common, "--out", str(single)]) == 0
    expected = json.loads(single.read_text())
    assert len(expected) == 24 * 20  # every query of every image kept
    assert json.loads(merged.read_text()) == expected
    assert merge_shards(sharded).failed == []


def test_a_vanished_image_is_recorded_as_failed_and_the_run_goes_on(folder, tmp_path, capsys):
    from detr_core import Detector
    from detr_core.infer.prelabel import PrelabelConfig, prelabel

    detector = Detector.from_checkpoint(DEMO, device="cpu")
    paths = sorted(folder.rglob("*.jpg"))[:4]
    items = [(i, p, p.relative_to(folder).as_posix()) for i, p in enumerate(paths)]
    gone = paths[1]
    saved = gone.read_bytes()
    gone.unlink()  # deleted after it was listed
    paths[2].write_bytes(saved[:100])  # truncated
    shard = Shard(0, 1)
    with ShardWriter.open(tmp_path / "out", shard, "sha-a", {"s": 1}) as writer:
        counts = prelabel(detector, items, writer, PrelabelConfig(batch_size=2, threshold=0.5))
    assert (counts.done, counts.skipped, counts.failed) == (2, 0, 2)
    records, _ = read_records(tmp_path / "out" / shard.file_name)
    status = {r["file_name"]: (r["status"], r.get("error", "")) for r in records}
    assert status[items[1][2]][0] == "failed" and str(gone) in status[items[1][2]][1]
    assert status[items[2][2]][0] == "failed" and str(paths[2]) in status[items[2][2]][1]
    merged = merge_shards(tmp_path / "out")
    assert merged.images == 2 and [n for n, _ in merged.failed] == [items[1][2], items[2][2]]
    assert {r["image_id"] for r in merged.results} <= {1, 4}

    gone.write_bytes(saved)  # back again, and the truncated one repaired: only those two run
    paths[2].write_bytes(saved)
    with ShardWriter.open(tmp_path / "out", shard, "sha-a", {"s": 1}) as writer:
        counts = prelabel(detector, items, writer, PrelabelConfig(batch_size=2, threshold=0.5))
    assert (counts.done, counts.skipped, counts.failed) == (2, 2, 0)
    assert merge_shards(tmp_path / "out").failed == []
    with ShardWriter.open(tmp_path / "out", shard, "sha-b", {"s": 1}) as writer:  # other weights: redo
        assert not writer.is_done(ImageKey.of(paths[0]))


@pytest.mark.slow
def test_merging_shards_of_different_checkpoints_is_refused_naming_both(folder, tmp_path, capsys):
    from detr_core.model.config import preset
    from detr_core.model.detr import build

    torch.manual_seed(0)
    other = tmp_path / "other.pth"
    torch.save({"model": build(preset("tiny", num_classes=5)).state_dict()}, other)
    images = tmp_path / "four"
    images.mkdir()
    for p in SAMPLES[:4]:
        shutil.copy(p, images / p.name)
    out = tmp_path / "shards"
    assert main(["detect", str(images), "-c", str(DEMO), "--device", "cpu", "--out-dir", str(out), "--shard", "0/2"]) == 0
    assert main(["detect", str(images), "-c", str(other), "--device", "cpu", "--out-dir", str(out), "--shard", "1/2"]) == 0
    capsys.readouterr()
    assert main(["coco", "merge-results", str(out), "--out", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err
    from detr_core.infer.fingerprint import checkpoint_sha256

    assert "shards of different checkpoints cannot be merged" in err
    assert checkpoint_sha256(DEMO) in err and checkpoint_sha256(other) in err
    assert "shard-00000-of-00002.jsonl" in err and "shard-00001-of-00002.jsonl" in err
    assert not (tmp_path / "m.json").exists()


def test_shard_arithmetic_and_environment():
    items = list(range(10))
    parts = [Shard(i, 3).take(items) for i in range(3)]
    assert sorted(i for part in parts for i, _ in part) == items  # disjoint and complete
    assert [len(p) for p in parts] == [4, 3, 3]
    assert Shard.parse(" 2/4 ") == Shard(2, 4)
    assert Shard.from_env({"RANK": "3", "WORLD_SIZE": "8"}) == Shard(3, 8)
    assert Shard.from_env({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1",
                           "SLURM_ARRAY_TASK_COUNT": "4"}) == Shard(1, 4)
    assert Shard.from_env({}) is None
    with pytest.raises(WorkbenchError, match="expected I/N"):
        Shard.parse("2 of 4")
    with pytest.raises(WorkbenchError, match="need 0 <= I < N"):
        Shard.parse("4/4")


def test_a_damaged_line_inside_a_shard_file_is_reported(tmp_path, capsys):
    path = tmp_path / "shard-00000-of-00001.jsonl"
    good = json.dumps({"format": FORMAT, "path": "/x", "status": "failed", "file_name": "x", "error": "e"})
    path.write_text(good + "\nnot json\n" + good + "\n")
    with pytest.raises(DatasetError, match=f"^{path}: line 2 is not JSON"):
        merge_shards(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no shard files"):
        merge_shards(tmp_path / "empty")
    assert main(["detect", str(SAMPLES[0]), "-c", str(DEMO), "--shard", "0/2"]) == 1
    assert "--shard needs --out-dir" in capsys.readouterr().err


def test_shards_of_different_settings_are_refused_and_a_result_is_kept_over_a_later_failure(tmp_path):
    images = [tmp_path / f"{i}.jpg" for i in range(3)]
    for p in images:
        shutil.copy(SAMPLES[0], p)
    out = tmp_path / "out"
    found = [{"category_id": 1, "bbox": [1.0, 2.0, 3.0, 4.0], "score": 0.9, "query": 0}]
    with ShardWriter.open(out, Shard(0, 2), "sha", {"threshold": 0.7}) as writer:
        writer.done(0, "0.jpg", ImageKey.of(images[0]), (320, 240), found)
        writer.done(2, "2.jpg", ImageKey.of(images[2]), (320, 240), found)
    with ShardWriter.open(out, Shard(0, 2), "sha", {"threshold": 0.7}) as writer:
        assert writer.is_done(ImageKey.of(images[0]))
        writer.failed(2, "2.jpg", images[2], "gone")  # a rerun no longer finds it
    merged = merge_shards(out)
    assert [r["image_id"] for r in merged.results] == [1, 3] and merged.failed == []
    with ShardWriter.open(out, Shard(1, 2), "sha", {"threshold": 0.0}) as writer:
        writer.done(1, "1.jpg", ImageKey.of(images[1]), (320, 240), found)
    with pytest.raises(DatasetError, match="shards of different settings cannot be merged: "
                                           "shard-00000-of-00002.jsonl has settings"):
        merge_shards(out)
