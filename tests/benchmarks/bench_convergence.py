"""What a fine-tune buys per minute (issue 12), by hand:

    python -m tests.benchmarks.bench_convergence --minutes 10 --seeds 0 1 2 \
        --arms today groups groups_ema auto [--out build/bench_convergence]
    python -m tests.benchmarks.bench_convergence --step-cost      # cost per step of K groups
    python -m tests.benchmarks.bench_convergence --overfit 600    # 4 images / 9 classes from scratch

Fine-tune arms start from the bundled demo model (resources/models/demo.pth) on the shifted
synthetic domain (data/synthetic.py, domain "shifted": two new classes, outlines, other
backgrounds): 20 labelled images (seed 11), 100 held-out images (seed 12). Each arm is one real
`train()` run of `--minutes` wall-clock (seeds paired: the same seed gives every arm the same data
order, augmentation and new head rows); the run writes checkpoint.pth after every epoch and the
benchmark copies the first one written after each mark (2, 5 minutes), so one run gives all the
marks. After the runs, each copy is scored on the held-out images (its EMA weights where the arm
has EMA: what the run would evaluate and save). No validation during the runs: every arm spends
its minutes training.

Arms: today = the settings a user got before (TrainConfig defaults, 200 epochs); groups = today +
4 query groups; groups_ema = + EMA; auto = the automatic recipe (train/recipe.py) with
`time_budget_s` = the minutes.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources/models/demo.pth"
MARKS_MIN = (2, 5)


def _domain(out: Path) -> tuple[Path, Path]:
    from detr_core.data.synthetic import write_dataset

    train, held = out / "shifted_train/annotations.json", out / "shifted_held/annotations.json"
    if not train.is_file():
        write_dataset(train.parent, 20, seed=11, name="t", domain="shifted")
    if not held.is_file():
        write_dataset(held.parent, 100, seed=12, name="h", domain="shifted")
    return train, held


def _arm_config(arm: str, minutes: float, seed: int, facts):
    from detr_core.train.config import TrainConfig
    from detr_core.train.recipe import choose

    today = TrainConfig(epochs=200, seed=seed)
    if arm == "today":
        return today, ["today's defaults, 200 epochs"]
    if arm == "groups":
        return today.replace(groups=4), ["today + 4 groups"]
    if arm == "groups_ema":
        return today.replace(groups=4, ema_decay=0.99, ema_tau=25.0), ["today + 4 groups + EMA"]
    if arm.startswith("auto"):
        recipe = choose(facts, given={"seed": seed, "time_budget_s": minutes * 60})
        return recipe.config, recipe.lines
    raise SystemExit(f"unknown arm {arm!r}")


def _run_arm(arm: str, seed: int, minutes: float, train_json: Path, out: Path) -> dict:
    from detr_core.checkpoints import load_checkpoint
    from detr_core.train import setup
    from detr_core.train.engine import train
    from detr_core.train.recipe import DataFacts

    run = out / f"{arm}_s{seed}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    base = load_checkpoint(DEMO)
    res = setup.pick_resolution("auto", base.config)
    loaded = setup.load_data(train_json, None, None, None, res, hflip=True, seed=seed)
    start = setup.from_checkpoint(base, loaded.data.class_map, res, seed)
    new = len([n for n in loaded.data.class_map.names if n not in base.class_names])
    facts = DataFacts.of(loaded.data.train, new_classes=new, from_scratch=False)
    cfg, lines = _arm_config(arm, minutes, seed, facts)
    loaded = setup.load_data(train_json, None, None, None, res, hflip=cfg.hflip, seed=seed)
    began = time.perf_counter()
    marks = list(MARKS_MIN)
    copies: dict[int, Path] = {}

    def on_event(event) -> None:
        if event.TYPE == "checkpoint" and marks and time.perf_counter() - began >= marks[0] * 60:
            m = marks.pop(0)
            copies[m] = run / f"at_{m}m.pth"
            shutil.copyfile(event.path, copies[m])

    result = train(cfg, start.model, loaded.data, on_event, lambda: time.perf_counter() - began >= minutes * 60,
                   model_config=start.config, run_dir=run, base=start.base, recipe=lines)
    wall = time.perf_counter() - began
    copies[int(minutes)] = run / "checkpoint.pth"
    return {"arm": arm, "seed": seed, "steps": result.step, "epochs": result.epoch, "wall_s": round(wall, 1),
            "copies": {m: str(p) for m, p in copies.items()}, "recipe": lines}


def _score(path: Path, held_json: Path) -> float:
    from detr_core.checkpoints import read_checkpoint_state
    from detr_core.data.dataset import load_detection_dataset
    from detr_core.model.config import ModelConfig
    from detr_core.model.detr import build
    from detr_core.train.evaluate import evaluate_model

    raw = read_checkpoint_state(path)
    config = ModelConfig.from_dict(raw["model_config"])
    model = build(config)
    ema = (raw.get("state") or {}).get("ema")
    model.load_state_dict(ema["weights"] if ema else raw["model"])
    held, _ = load_detection_dataset(held_json, train=False)
    from detr_core.data.classes import ClassMap

    class_map = ClassMap.from_categories(held.document.categories)
    return float(evaluate_model(model, config, class_map, held, batch_size=4).metrics["AP50"])


def _base_ap(held_json: Path) -> float:
    """The demo model as it is (its five classes; the two new ones count as missed)."""
    from detr_core.train.evaluate import evaluate_checkpoint

    result, _ = evaluate_checkpoint(DEMO, held_json, device="cpu", num_workers=0)
    return float(result.metrics["AP50"])


def fine_tune(args) -> None:
    out = Path(args.out)
    train_json, held_json = _domain(out)
    rows = []
    for seed in args.seeds:
        for arm in args.arms:
            info = _run_arm(arm, seed, args.minutes, train_json, out)
            info["AP50"] = {m: round(_score(Path(p), held_json), 3) for m, p in info["copies"].items()}
            rows.append(info)
            print(json.dumps({k: v for k, v in info.items() if k != "copies"}), file=sys.stderr, flush=True)
    base = _base_ap(held_json)
    marks = sorted({m for r in rows for m in r["AP50"]})
    print(f"\nheld-out AP50 (100 images of the shifted domain); the demo model as it is: {base:.3f}")
    print("| arm | seed | steps | " + " | ".join(f"{m} min" for m in marks) + " |")
    print("|---|---|---|" + "---|" * len(marks))
    for r in rows:
        print(f"| {r['arm']} | {r['seed']} | {r['steps']} | "
              + " | ".join(f"{r['AP50'].get(m, float('nan')):.3f}" for m in marks) + " |")
    (out / f"results_{'_'.join(args.arms)}_s{'_'.join(map(str, args.seeds))}.json").write_text(json.dumps({"base_AP50": base, "rows": rows}, indent=2))


def step_cost(args) -> None:
    """Seconds per optimizer step (batch 4, the demo model at 192 px) for K query groups."""
    from detr_core.checkpoints import load_checkpoint
    from detr_core.data.collate import collate
    from detr_core.train import setup
    from detr_core.train.config import TrainConfig
    from detr_core.train.engine import train

    out = Path(args.out)
    train_json, _ = _domain(out)
    print("| groups | s per step (median of 8) | x K=1 |\n|---|---|---|")
    first = None
    for k in (1, 2, 4, 8):
        base = load_checkpoint(DEMO)
        res = setup.pick_resolution("auto", base.config)
        loaded = setup.load_data(train_json, None, None, None, res, hflip=True, seed=0)
        start = setup.from_checkpoint(base, loaded.data.class_map, res, 0)
        times = []
        cfg = TrainConfig(epochs=2, batch_size=4, groups=k, num_workers=0)
        last = [time.perf_counter()]

        def on_event(e):
            if e.TYPE == "step":
                now = time.perf_counter()
                times.append(now - last[0])
                last[0] = now
            elif e.TYPE in ("epoch", "checkpoint"):
                last[0] = time.perf_counter()

        train(cfg, start.model, loaded.data, on_event, lambda: len(times) >= 9, model_config=start.config)
        med = sorted(times[1:])[len(times[1:]) // 2]
        first = first or med
        print(f"| {k} | {med:.3f} | {med / first:.2f} |", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--arms", nargs="+", default=["today", "groups", "groups_ema", "auto"])
    p.add_argument("--out", default=str(ROOT / "build/bench_convergence"))
    p.add_argument("--step-cost", action="store_true")
    p.add_argument("--threads", type=int, help="torch threads (on a machine shared with other jobs, 1 is "
                                               "~10x faster than 2: oversubscribed threads spin)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.step_cost:
        step_cost(args)
    else:
        fine_tune(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
