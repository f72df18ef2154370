"""The review queue: one ImageReview per image, ranked by where to look first, and the file it is
written to (findings.json).

findings.json: {"version": 1, "kind": "labelled" | "unlabelled", "model": description,
"honesty": {"status", "detail"}, "class_mapping": note, "config": ReviewConfig fields,
"counts": {...}, "images": [ranked ImageReview dicts], "failed": [{"file_name", "error"}]}.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write_json
from ..errors import DatasetError
from .config import ReviewConfig
from .finding import Finding
from .honesty import Honesty

VERSION = 1


@dataclass
class ImageReview:
    file_name: str
    score: float  # 0..1: higher = look here first
    image_id: int | None = None
    status: str = "scored"  # "scored" | "failed"
    error: str | None = None  # why it failed, one line naming the file
    quality: float | None = None  # labelled: cleanlab's image quality (1 = labels look right)
    findings: list[Finding] = field(default_factory=list)
    uncertainty: dict[str, float] | None = None  # unlabelled: the terms of the score
    in_training: bool | None = None  # the model was trained on this image (None: unknown)
    phash: str | None = None
    near_duplicate_of: str | None = None  # unlabelled: an earlier-ranked image it resembles

    def to_dict(self) -> dict:
        d = {"file_name": self.file_name, "image_id": self.image_id, "status": self.status,
             "score": None if math.isnan(self.score) else round(self.score, 4)}
        if self.error is not None:
            d["error"] = self.error
        if self.quality is not None:
            d["quality"] = round(self.quality, 4)
        if self.uncertainty is not None:
            d["uncertainty"] = {k: round(v, 4) for k, v in self.uncertainty.items()}
        d["in_training"] = self.in_training
        if self.phash is not None:
            d["phash"] = self.phash
        if self.near_duplicate_of is not None:
            d["near_duplicate_of"] = self.near_duplicate_of
        d["findings"] = [f.to_dict() for f in self.findings]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ImageReview":
        score = d.get("score")
        return cls(d["file_name"], float("nan") if score is None else float(score), d.get("image_id"),
                   d.get("status", "scored"), d.get("error"), d.get("quality"),
                   [Finding.from_dict(f) for f in d.get("findings", [])], d.get("uncertainty"),
                   d.get("in_training"), d.get("phash"), d.get("near_duplicate_of"))


@dataclass
class ReviewQueue:
    kind: str  # "labelled" | "unlabelled"
    model: str = ""
    honesty: Honesty = field(default_factory=Honesty.unknown)
    class_mapping: str = ""  # the mapping's note ("" = the model's classes are the file's)
    config: ReviewConfig = field(default_factory=ReviewConfig)
    images: list[ImageReview] = field(default_factory=list)  # in arrival order

    def add(self, review: ImageReview) -> None:
        self.images.append(review)

    @property
    def failed(self) -> list[ImageReview]:
        return [r for r in self.images if r.status == "failed"]

    def ranked(self) -> list[ImageReview]:
        """Scored images, highest score first (ties: file order). Unlabelled queues keep the
        order their near-duplicate spreading gave them (see unlabelled.spread_near_duplicates)."""
        scored = [r for r in self.images if r.status == "scored"]
        if self.kind == "unlabelled":
            from .unlabelled import spread_near_duplicates

            return spread_near_duplicates(scored, self.config.near_duplicate_bits)
        return sorted(scored, key=lambda r: -r.score)

    def counts(self) -> dict[str, int]:
        counts = {"images": len(self.images), "scored": len(self.images) - len(self.failed),
                  "failed": len(self.failed), "findings": sum(len(r.findings) for r in self.images)}
        for r in self.images:
            for f in r.findings:
                counts[f.kind] = counts.get(f.kind, 0) + 1
        return counts

    def to_dict(self) -> dict:
        return {"version": VERSION, "kind": self.kind, "model": self.model,
                "honesty": self.honesty.to_dict(), "class_mapping": self.class_mapping,
                "config": self.config.to_dict(), "counts": self.counts(),
                "images": [r.to_dict() for r in self.ranked()],
                "failed": [{"file_name": r.file_name, "error": r.error} for r in self.failed]}

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        try:
            atomic_write_json(path, self.to_dict(), indent=1)
        except OSError as e:
            raise DatasetError(f"{path}: cannot write findings ({e.strerror or e})") from None
        return path

    @classmethod
    def read(cls, path: str | Path) -> "ReviewQueue":
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            queue = cls(d["kind"], d.get("model", ""), Honesty.from_dict(d.get("honesty") or {}),
                        d.get("class_mapping", ""), ReviewConfig.from_dict(d.get("config") or {}),
                        [ImageReview.from_dict(r) for r in d["images"]])
        except OSError as e:
            raise DatasetError(f"{path}: cannot read findings ({e.strerror or e})") from None
        except (ValueError, KeyError, TypeError) as e:
            raise DatasetError(f"{path}: not a findings file ({type(e).__name__}: {e})") from None
        queue.images += [ImageReview(f["file_name"], float("nan"), status="failed", error=f.get("error"))
                         for f in d.get("failed", [])]
        return queue
