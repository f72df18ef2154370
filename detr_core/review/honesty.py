"""Are the model's predictions on these images out-of-sample? A model scored on the images it
was trained on fits their labels, mistakes included, and hides them.

Project checkpoints record their training file (metadata "train_json"); an image counts as seen
in training when its file name (or, failing that, its base name with the same width and height)
is in that file. Cross-fitted queues (crossfit.py) are out-of-sample by construction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Honesty:
    status: str  # "out-of-sample" | "in-sample" | "partly in-sample" | "cross-fitted" | "unknown"
    detail: str  # one line for a person
    seen: frozenset[str] = frozenset()  # reviewed file names the model was trained on

    @classmethod
    def unknown(cls, detail: str = "the checkpoint does not say what it was trained on") -> "Honesty":
        return cls("unknown", detail)

    def in_training(self, file_name: str) -> bool | None:
        if self.status in ("unknown",):
            return None
        return file_name in self.seen

    def to_dict(self) -> dict:
        return {"status": self.status, "detail": self.detail, "in_sample_images": len(self.seen)}

    @classmethod
    def from_dict(cls, d: dict) -> "Honesty":
        return cls(d.get("status", "unknown"), d.get("detail", ""))


def _images_of(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [im for im in data.get("images", []) if isinstance(im, dict) and "file_name" in im]


def check_honesty(metadata: dict, images: list[dict], reviewed_json: Path | None = None) -> Honesty:
    """metadata: the checkpoint's; images: the reviewed COCO images (file_name, width, height)."""
    train_json = metadata.get("train_json")
    if not train_json:
        return Honesty.unknown()
    train_path = Path(train_json)
    names = [str(im["file_name"]) for im in images]
    if reviewed_json is not None and train_path.exists() and train_path.resolve() == Path(reviewed_json).resolve():
        return Honesty("in-sample", f"the model was trained on this file ({train_path}): its scores hide "
                                    "the mistakes; cross-fit (--folds K) for honest ones", frozenset(names))
    try:
        trained = _images_of(train_path)
    except (OSError, ValueError) as e:
        return Honesty.unknown(f"the model's training file {train_path} cannot be read here ({type(e).__name__})")
    full = {str(im["file_name"]) for im in trained}
    base = {(Path(str(im["file_name"])).name, im.get("width"), im.get("height")) for im in trained}
    seen = frozenset(im["file_name"] for im in images if str(im["file_name"]) in full
                     or (Path(str(im["file_name"])).name, im.get("width"), im.get("height")) in base)
    if not seen:
        return Honesty("out-of-sample", f"none of these {len(names)} images is in the model's training "
                                        f"file {train_path}")
    if len(seen) == len(names):
        return Honesty("in-sample", f"all {len(names)} images are in the model's training file {train_path}: "
                                    "its scores hide their mistakes; cross-fit (--folds K) for honest ones", seen)
    return Honesty("partly in-sample", f"{len(seen)} of {len(names)} images are in the model's training file "
                                       f"{train_path} (flagged per image)", seen)
