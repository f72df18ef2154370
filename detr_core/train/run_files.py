"""The files of a training run directory, and what their metadata says.

    RUN_DIR/checkpoint.pth   resumable: weights + "state" (train_state.py); after every epoch
    RUN_DIR/model.pth        final weights, written when the run completes
    RUN_DIR/best.pth         weights of the best validation AP so far
    RUN_DIR/metrics.jsonl    the event stream (events.py), written by the CLI
    RUN_DIR/run.json         the command's arguments, for `--resume` without repeating them
All are project-format checkpoints (checkpoints/project.py) written atomically; their metadata
holds "category_ids" (dataset id of each class, in class order), "epoch", "step", "metrics",
"train_config" and whatever the caller adds (data paths, base checkpoint).
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path

from torch import nn

from ..errors import CheckpointError
from ..model.config import ModelConfig
from ..data.classes import ClassMap
from .config import TrainConfig

from .run_names import BEST, CHECKPOINT, METRICS, MODEL, RUN_FILES, RUN_JSON  # noqa: F401 (names of this module)


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary files of atomic writes that a killed run left in `run_dir` (a SIGKILL
    mid-checkpoint leaves `.checkpoint.pth.XXXX.tmp`, as large as a checkpoint); return them."""
    removed = []
    for name in RUN_FILES:
        for path in Path(run_dir).glob(f".{name}.*.tmp"):
            try:
                path.unlink()
                removed.append(path)
            except FileNotFoundError:
                pass
    return removed


class RunFiles:
    def __init__(self, run_dir: Path, model_config: ModelConfig, class_names: list[str],
                 class_map: ClassMap, cfg: TrainConfig, metadata: dict, base: str,
                 half_weights: bool = False):
        self.run_dir = Path(run_dir)
        self.model_config = model_config
        self.class_names = class_names
        self.class_map = class_map
        self.cfg = cfg
        self.extra = metadata
        self.base = base
        self.half_weights = half_weights  # model.pth / best.pth in fp16 (the loader converts back)

    @property
    def checkpoint(self) -> Path:
        return self.run_dir / CHECKPOINT

    def metadata(self, epoch: int, step: int, metrics: dict | None) -> dict:
        return {**self.extra, "category_ids": list(self.class_map.category_ids), "epoch": epoch,
                "step": step, "metrics": metrics, "train_config": self.cfg.to_dict(), "base": self.base,
                "saved": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def _save(self, name: str, model: nn.Module, epoch: int, step: int, metrics: dict | None,
              state: dict | None = None) -> Path:
        from ..checkpoints import save_checkpoint

        path = self.run_dir / name
        if not self.run_dir.is_dir():  # never re-create it: whoever deleted it meant it
            raise CheckpointError(f"{self.run_dir}: run folder was deleted while the job ran; "
                                  f"{name} not saved, the job stops")
        save_checkpoint(path, model, self.model_config, self.class_names,
                        metadata=self.metadata(epoch, step, metrics), state=state)
        return path

    def save_checkpoint(self, model: nn.Module, state: dict, epoch: int, step: int,
                        metrics: dict | None) -> Path:
        return self._save(CHECKPOINT, model, epoch, step, metrics, state)

    def _weights(self, model: nn.Module) -> nn.Module:
        return copy.deepcopy(model).half() if self.half_weights else model

    def save_model(self, model: nn.Module, epoch: int, step: int, metrics: dict | None) -> Path:
        return self._save(MODEL, self._weights(model), epoch, step, metrics)

    def save_best(self, model: nn.Module, epoch: int, step: int, metrics: dict | None) -> Path:
        return self._save(BEST, self._weights(model), epoch, step, metrics)
