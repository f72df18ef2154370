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


def _overrides(text: str) -> dict:
    """"lr=3e-4,groups=2" -> {"lr": 3e-4, "groups": 2} (values as Python literals, else strings)."""
    import ast

    out = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def _arm_config(arm: str, minutes: float, seed: int, facts):
    """An arm's TrainConfig and its description. `ARM:key=value,...` overrides fields of ARM's
    configuration (e.g. `auto:lr_backbone=1e-4`, `today:groups=2`), for trying recipes."""
    if ":" in arm:
        name, _, text = arm.partition(":")
        cfg, lines = _arm_config(name, minutes, seed, facts)
        changes = _overrides(text)
        return cfg.replace(**changes), lines + [f"  {k} = {v} (arm)" for k, v in changes.items()]
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

    run = out / (arm.replace(":", "_").replace(",", "_").replace("=", "") + f"_s{seed}")
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    base = load_checkpoint(DEMO)
    res = setup.pick_resolution("auto", base.config)
    loaded = setup.load_data(train_json, None, None, None, res, hflip=True, seed=seed)
    start = setup.from_checkpoint(base, loaded.data.class_map, res, seed)
    new = len([n for n in loaded.data.class_map.names if n not in base.class_names])
    facts = DataFacts.of(loaded.data.train, new_classes=new, from_scratch=False, backbone=base.config.backbone)
    cfg, lines = _arm_config(arm, minutes, seed, facts)
    res = setup.pick_resolution(cfg.resolution, base.config)
    loaded = setup.load_data(train_json, None, None, None, res, hflip=cfg.hflip, seed=seed)
    start = setup.from_checkpoint(load_checkpoint(DEMO), loaded.data.class_map, res, seed)
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
    from detr_core.data.batching import collate
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


def nine_classes(out: Path) -> Path:
    """4 COCO photos (coco_tiny train2017) holding 9 boxes of 9 different classes, one box per
    class: the first such 4 of the images with 1-4 boxes of distinct classes."""
    from itertools import combinations

    source = ROOT.parent / "shared/data/coco_tiny/annotations/instances_train2017.json"
    data = json.loads(source.read_text())
    boxes: dict[int, list[dict]] = {}
    for a in data["annotations"]:
        if not a.get("iscrowd"):
            boxes.setdefault(a["image_id"], []).append(a)
    distinct = [i for i, b in boxes.items() if len(b) <= 4 and len({a["category_id"] for a in b}) == len(b)]
    for four in combinations(distinct, 4):
        cats = [a["category_id"] for i in four for a in boxes[i]]
        if len(cats) == 9 == len(set(cats)):
            break
    else:
        raise SystemExit(f"{source}: no 4 images hold 9 boxes of 9 classes")
    images = [im for im in data["images"] if im["id"] in four]
    subset = dict(data, images=images, annotations=[a for i in four for a in boxes[i]],
                  categories=[c for c in data["categories"] if c["id"] in set(cats)])
    path = out / "nine_classes.json"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(subset))
    return path


def overfit(args) -> None:
    """`train --config tiny` from scratch with the defaults (the automatic recipe), scored on its own
    4 training images; and the same with `--recipe reference` (the defaults before issue 12)."""
    import contextlib
    import io

    from detr_core.cli.main import main as cli

    out = Path(args.out)
    path = nine_classes(out)
    images = ROOT.parent / "shared/data/coco_tiny/train2017"
    print(f"\n4 images, 9 boxes, 9 classes ({path}); train --config tiny --epochs {args.overfit}")
    print("| recipe | seed | AP50 on its 4 images | wall s |\n|---|---|---|---|")
    for seed in args.seeds:
        for recipe in args.overfit_recipes:
            name, *extra = recipe.split()  # "auto --groups 1": the recipe and options given to train
            run = out / ("overfit_" + "_".join([name, *(e.strip("-") for e in extra)]) + f"_s{seed}")
            began = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = cli(["train", "--config", "tiny", "--train-json", str(path), "--train-images", str(images),
                            "--val-json", str(path), "--val-images", str(images), "--epochs", str(args.overfit),
                            "--eval-every", "0", "--seed", str(seed), "--recipe", name, "--out", str(run),
                            "--overwrite", *extra])
            wall = time.perf_counter() - began
            evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
                     if json.loads(line).get("type") == "eval"]
            ap = evals[-1]["metrics"]["AP50"] if code == 0 and evals else float("nan")
            print(f"| {recipe} | {seed} | {ap:.3f} | {wall:.0f} |", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--arms", nargs="+", default=["today", "groups", "groups_ema", "auto"])
    p.add_argument("--out", default=str(ROOT / "build/bench_convergence"))
    p.add_argument("--step-cost", action="store_true")
    p.add_argument("--overfit", type=int, metavar="EPOCHS", help="the 4-image / 9-class from-scratch overfit")
    p.add_argument("--overfit-recipes", nargs="+", default=["auto"], metavar="RECIPE",
                   help="auto | reference, optionally with train options: \"auto --groups 1\"")
    p.add_argument("--threads", type=int, help="torch threads (on a machine shared with other jobs, 1 is "
                                               "~10x faster than 2: oversubscribed threads spin)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.step_cost:
        step_cost(args)
    elif args.overfit:
        overfit(args)
    else:
        fine_tune(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
