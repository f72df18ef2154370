"""The pre-labelling loop of one shard: every image not done yet, in batches, into its shard file.

Engine-agnostic: `detector` is a `Detector` or an `OnnxDetector` (anything whose
`detect(list of PIL images)` returns Detections). An image that cannot be found or read (deleted
mid-run, truncated) is recorded as failed and the run goes on.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..errors import ImageError
from ..images import load_image
from .shards import ImageKey, ShardWriter

Item = tuple[int, Path, str]  # (index in the whole run, image path, file_name for the results)


@dataclass(frozen=True)
class PrelabelCounts:
    done: int  # images detected in this run
    skipped: int  # already done by an earlier run (same file, checkpoint and settings)
    failed: int  # missing or unreadable: recorded as failed


@dataclass(frozen=True)
class PrelabelConfig:
    batch_size: int = 1
    threshold: float = 0.7  # keep detections with at least this score (0: every query)
    topk: int | None = None  # at most this many per image
    category_ids: dict[int, int] | None = None  # model class -> dataset category id


def prelabel(detector, items: Sequence[Item], writer: ShardWriter, config: PrelabelConfig = PrelabelConfig(),
             on_image: Callable[[int, str | None], None] | None = None) -> PrelabelCounts:
    """Detect `items` into `writer`, skipping those it already has. on_image(count, error or None)
    is called per image handled (for a progress bar)."""
    report = on_image or (lambda n, error: None)
    done = skipped = failed = 0
    pending: list[tuple[int, str, ImageKey, object]] = []

    def flush() -> None:
        nonlocal done
        if not pending:
            return
        outputs = detector.detect([image for *_, image in pending])
        for (index, name, key, image), det in zip(pending, outputs):
            entries = det.to_coco(0, None, config.threshold, config.topk, config.category_ids)
            writer.done(index, name, key, image.size, [_strip(e) for e in entries])
            done += 1
            report(1, None)
        writer.sync()
        pending.clear()

    for index, path, name in items:
        try:
            key = ImageKey.of(path)
        except OSError as e:
            writer.failed(index, name, path, f"{path}: {e.strerror or 'cannot be read'} (gone since it was listed?)")
            failed += 1
            report(1, f"{path}: no longer there")
            continue
        if writer.is_done(key):
            skipped += 1
            report(1, None)
            continue
        try:
            image = load_image(path)
        except (ImageError, OSError) as e:
            writer.failed(index, name, path, str(e))
            failed += 1
            report(1, str(e))
            continue
        pending.append((index, name, key, image))
        if len(pending) >= config.batch_size:
            flush()
    flush()
    return PrelabelCounts(done, skipped, failed)


def _strip(entry: dict) -> dict:
    """A COCO result without image_id and file_name: the merge adds them."""
    return {k: v for k, v in entry.items() if k not in ("image_id", "file_name")}


def settings_of(engine: str, detector, precision: str, config: PrelabelConfig) -> dict:
    """What, besides the checkpoint, makes two runs' results the same: part of each record's key."""
    return {"engine": engine, "precision": precision, "min_size": int(detector.min_size),
            "max_size": int(detector.max_size), "threshold": config.threshold, "topk": config.topk}

