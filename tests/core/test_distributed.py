"""Distributed training on CPU with gloo: 2 processes hold identical weights after a few steps,
and those weights are what the loss averaging promises: one optimizer step on the mean over
processes of each process's loss, whose box terms are divided by the number of boxes averaged over
processes (criterion.num_boxes). Also the real command under torchrun."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from detr_core.model.criterion import SetCriterion
from detr_core.data.batching import collate
from detr_core.data.sampler import EpochSampler
from detr_core.train.optim import LRSchedule, build_optimizer
from detr_core.train.config import TrainConfig
from detr_core.train.fold import folded_for_training

from test_train_helpers import shapes_dataset, tiny_config, tiny_model, train_data

ROOT = Path(__file__).resolve().parents[2]
CFG = TrainConfig(epochs=1, batch_size=2, num_workers=0, lr=1e-3, lr_backbone=1e-3, seed=5)
STEPS = 2  # 8 images, 2 processes x 2 images per step


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, annotations: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from detr_core.train import distributed
    from detr_core.train.engine import train

    info = distributed.init_from_env(torch.device("cpu"))
    assert (info.rank, info.world_size, info.backend) == (rank, world, "gloo")
    model = tiny_model(seed=0, dropout=0.0)
    result = train(CFG, model, train_data(Path(annotations), seed=CFG.seed), None,
                   model_config=tiny_config(dropout=0.0), device="cpu")
    assert result.step == STEPS
    torch.save(model.state_dict(), Path(out) / f"rank{rank}.pt")
    distributed.cleanup()


def _reference(annotations: Path, world: int, average_boxes: bool) -> dict:
    """The same steps in one process, from the loss averaging's definition."""
    model = tiny_model(seed=0, dropout=0.0)
    data = train_data(annotations, seed=CFG.seed)
    criterion = SetCriterion(model.num_classes, CFG.criterion)
    with folded_for_training(model):
        model.train()
        optimizer = build_optimizer(model, CFG)
        schedule = LRSchedule(optimizer, CFG, STEPS)
        schedule.apply(0)
        data.train.set_epoch(0)
        orders = []
        for r in range(world):
            sampler = EpochSampler(len(data.train), seed=CFG.seed, rank=r, world_size=world)
            sampler.set_epoch(0)
            orders.append(list(sampler))
        for step in range(STEPS):
            batches = [collate([data.train[i] for i in order[2 * step:2 * step + 2]]) for order in orders]
            counts = [sum(len(t["labels"]) for t in b.targets) for b in batches]
            mean_boxes = sum(counts) / world
            total = 0.0
            for batch, n in zip(batches, counts):
                terms = criterion(model(batch.images, batch.mask), batch.targets)
                # criterion divided the box terms by this process's n; the promise is the average
                scale = max(n, 1) / max(mean_boxes, 1) if average_boxes else 1.0
                total = total + sum(v * criterion.weight_dict[k.rsplit("_", 1)[0] if k[-1].isdigit() else k]
                                    * (1.0 if k.startswith("loss_ce") else scale)
                                    for k, v in terms.items() if k.startswith("loss_"))
            (total / world).backward()
            torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]],
                                           CFG.clip_max_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            schedule.apply(step + 1)
    return model.state_dict(), counts


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return shapes_dataset(tmp_path_factory.mktemp("dist") / "train", 8, seed=21)


@pytest.mark.slow
def test_two_gloo_processes_match_each_other_and_the_loss_averaging(shapes, tmp_path):
    world = 2
    mp.spawn(_worker, args=(world, _free_port(), str(shapes), str(tmp_path)), nprocs=world, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)

    expected, counts = _reference(shapes, world, average_boxes=True)
    assert counts[0] != counts[1]  # otherwise averaging the box count would change nothing
    wrong, _ = _reference(shapes, world, average_boxes=False)
    start = tiny_model(seed=0, dropout=0.0).state_dict()
    moved = max((rank0[k].float() - start[k].float()).abs().max().item() for k in rank0)
    error = max((rank0[k].float() - expected[k].float()).abs().max().item() for k in rank0)
    error_if_not_averaged = max((rank0[k].float() - wrong[k].float()).abs().max().item() for k in rank0)
    print(f"largest weight change {moved:.2e}; distance to the promise {error:.2e}, "
          f"to the same without box-count averaging {error_if_not_averaged:.2e}")
    assert moved > 1e-3  # two Adam steps at lr 1e-3 moved the weights
    assert error < 2e-5, error
    assert error_if_not_averaged > 20 * max(error, 1e-6)


@pytest.mark.slow
def test_train_command_under_torchrun_writes_once(shapes, tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node", "2",
           "-m", "detr_core", "train", "--train-json", str(shapes), "--val-json", str(shapes), "--config", "tiny",
           "--resolution", "256", "--epochs", "1", "--batch-size", "2", "--workers", "0", "--device", "cpu",
           "--out", str(out), "--jsonl"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["type"] for e in events].count("start") == 1  # only rank 0 reports
    start = events[0]
    assert start["world_size"] == 2 and start["steps_per_epoch"] == 2 and start["batch_size"] == 4
    assert events[-1]["type"] == "end" and events[-1]["status"] == "completed"
    assert len([e for e in events if e["type"] == "step"]) == 2
    file_events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert file_events == events
    assert {p.name for p in out.iterdir()} >= {"checkpoint.pth", "model.pth", "metrics.jsonl", "run.json"}
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def _budget_worker(rank: int, world: int, port: int, annotations: str, out: str) -> None:
    """A timed run whose rank 1 measures every duration 1.6 times longer (its clock runs fast: a
    stand-in for a process whose steps and evaluations are timed differently, e.g. on a busier
    core) and loses time before every step: each process alone would fit another plan and end at
    another step."""
    import time

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from detr_core.train import distributed
    from detr_core.train.engine import train

    distributed.init_from_env(torch.device("cpu"))
    calls = [0]

    def lose_time() -> bool:  # asked before every step
        calls[0] += 1
        if rank == 1:
            time.sleep(0.08 * (1 + calls[0] % 3))
        return False

    model = tiny_model(seed=0, dropout=0.0)
    cfg = CFG.replace(epochs=1000, time_budget_s=6.0, eval_every=0)
    if rank == 1:
        real, zero = time.perf_counter, time.perf_counter()
        time.perf_counter = lambda: zero + 1.6 * (real() - zero)
    result = train(cfg, model, train_data(Path(annotations), seed=CFG.seed), None, lose_time,
                   model_config=tiny_config(dropout=0.0), device="cpu")
    torch.save({"step": result.step, "weights": model.state_dict()}, Path(out) / f"budget{rank}.pt")
    distributed.cleanup()


@pytest.mark.slow
def test_a_timed_run_ends_at_the_same_step_on_every_process(shapes, tmp_path):
    """The time budget's plan is rank 0's on every process (its lr schedule too), and the end is
    decided together: no process stops while another waits for it in a collective."""
    world = 2
    context = mp.spawn(_budget_worker, args=(world, _free_port(), str(shapes), str(tmp_path)), nprocs=world,
                       join=False)
    deadline = 120
    import time

    began = time.monotonic()
    while not context.join(timeout=5):
        if time.monotonic() - began > deadline:
            for p in context.processes:
                p.kill()
            pytest.fail(f"the processes did not finish within {deadline} s (one waits for the other)")
    runs = [torch.load(tmp_path / f"budget{r}.pt", weights_only=True) for r in range(world)]
    assert runs[0]["step"] == runs[1]["step"] > 4
    weights = [run["weights"] for run in runs]  # the same lr at every step on both
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
