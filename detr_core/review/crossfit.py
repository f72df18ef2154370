"""Cross-fitted review: honest predictions on labelled images without a held-out set.

The images are split into K folds (by image, deterministic in the seed). For each fold, a model is
trained by the project's own `train` command, in a child process, on the other K-1 folds; it then
predicts its held-out fold. Every image is thus scored by a model that never saw it.

    folds = make_folds(coco, k=5)
    models = train_fold_models(json_path, image_root, folds, out_dir, ["--checkpoint", "detr-r50",
                               "--epochs", "20"])          # in the background: hours on a CPU
    for review in iter_crossfit(coco, image_root, folds, models): ...

Run folders: OUT_DIR/fold_<i>/train.json (the other folds' images and boxes), OUT_DIR/fold_<i>/run/
(the train command's run folder), OUT_DIR/fold_<i>/train.log (its stderr).
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ..atomic import atomic_write_json
from ..errors import WorkbenchError
from .config import ReviewConfig
from .honesty import Honesty
from .queue import ImageReview

EXIT_STOPPED = 3  # the train command's "stopped, resumable" (e.g. --stop-after)


def make_folds(coco: dict, k: int, seed: int = 0) -> list[list[int]]:
    """[K] lists of image ids, a shuffled round-robin split (sizes differ by at most one)."""
    ids = [int(im["id"]) for im in coco.get("images", [])]
    if not 2 <= k <= len(ids):
        raise WorkbenchError(f"cross-fitting needs 2 <= folds <= images ({len(ids)}), got {k}")
    order = np.random.default_rng(seed).permutation(len(ids))
    return [sorted(ids[i] for i in order[f::k]) for f in range(k)]


def fold_training_file(coco: dict, held_out: Sequence[int]) -> dict:
    """The COCO dict without the held-out images and their boxes (all categories kept)."""
    out = {key: copy.deepcopy(value) for key, value in coco.items() if key not in ("images", "annotations")}
    held = set(int(i) for i in held_out)
    out["images"] = [im for im in coco["images"] if int(im["id"]) not in held]
    out["annotations"] = [a for a in coco.get("annotations", []) if int(a["image_id"]) not in held]
    return out


def _fold_model(run_dir: Path) -> Path | None:
    for name in ("model.pth", "checkpoint.pth"):
        if (run_dir / name).is_file():
            return run_dir / name
    return None


def train_fold_models(coco: dict, image_root: str | Path, folds: list[list[int]], out_dir: str | Path,
                      train_args: Sequence[str], *, on_fold: Callable[[int, str], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> list[Path]:
    """Train one model per fold with `python -m detr_core train ... train_args` (e.g.
    ["--config", "tiny", "--epochs", "1"] or ["--checkpoint", BASE, ...]); returns each fold's
    model (model.pth, or the resumable checkpoint.pth of a run stopped by --stop-after).
    `on_fold(i, message)` is told when each fold starts and ends. A fold whose run folder already
    holds a finished model is not trained again."""
    out_dir = Path(out_dir)
    models = []
    for i, held_out in enumerate(folds):
        fold_dir = out_dir / f"fold_{i}"
        run_dir = fold_dir / "run"
        done = run_dir / "model.pth"
        if not done.is_file():
            if should_stop is not None and should_stop():
                raise WorkbenchError(f"{out_dir}: cross-fitting stopped before fold {i}")
            fold_dir.mkdir(parents=True, exist_ok=True)
            train_json = fold_dir / "train.json"
            atomic_write_json(train_json, fold_training_file(coco, held_out))
            if on_fold:
                on_fold(i, f"fold {i + 1}/{len(folds)}: training on {len(coco['images']) - len(held_out)} images")
            cmd = [sys.executable, "-m", "detr_core", "train", "--train-json", str(train_json),
                   "--train-images", str(image_root), "--out", str(run_dir), "--overwrite", *map(str, train_args)]
            with open(fold_dir / "train.log", "w", encoding="utf-8") as log:
                code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ)).returncode
            if code not in (0, EXIT_STOPPED) or _fold_model(run_dir) is None:
                last = (fold_dir / "train.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()
                raise WorkbenchError(f"{fold_dir / 'train.log'}: fold {i} training failed (exit {code}): "
                                     f"{last[-1] if last else 'no output'}")
        models.append(_fold_model(run_dir))
        if on_fold:
            on_fold(i, f"fold {i + 1}/{len(folds)}: model {models[-1]}")
    return models


def iter_crossfit(coco: dict, image_root: str | Path, folds: list[list[int]], models: Sequence[Path],
                  cfg: ReviewConfig = ReviewConfig(), *, device: str = "auto", batch_size: int = 4,
                  on_progress: Callable[[int, int], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> Iterator[ImageReview]:
    """Each fold's model reviews its held-out images; yields ImageReview as results arrive."""
    from ..infer.detector import Detector
    from .labelled import iter_labelled

    assert len(folds) == len(models), "one model per fold"
    total = sum(len(f) for f in folds)
    done = 0
    honest = crossfit_honesty(len(folds))
    for held_out, model in zip(folds, models):
        held = set(held_out)
        part = dict(coco, images=[im for im in coco["images"] if int(im["id"]) in held],
                    annotations=[a for a in coco.get("annotations", []) if int(a["image_id"]) in held])
        detector = Detector.from_checkpoint(model, device=device)
        for review in iter_labelled(detector, part, image_root, cfg, honesty=honest, batch_size=batch_size,
                                    should_stop=should_stop):
            done += 1
            if on_progress:
                on_progress(done, total)
            yield review


def crossfit_honesty(k: int) -> Honesty:
    return Honesty("cross-fitted", f"each image scored by a model trained on the other {k - 1} of {k} folds")
