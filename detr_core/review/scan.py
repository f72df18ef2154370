"""Running a detector over a list of image files for the review: in batches, every decoder layer's
outputs, an image that fails to load reported and skipped (never the end of the scan), progress
and cancellation between batches."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import imagehash
from PIL import Image

from ..errors import ImageError
from ..images import load_image
from .predictions import ImagePredictions

Progress = Callable[[int, int], None]  # (images done, images in all)
ShouldStop = Callable[[], bool]


@dataclass
class Scanned:
    index: int  # position in the list given
    path: Path
    predictions: ImagePredictions | None  # None when the image failed to load
    error: str | None = None  # one line naming the file
    phash: str | None = None  # perceptual hash (hex, 64 bits), for near-duplicates


def scan(detector, paths: Sequence[Path], *, batch_size: int = 4, hashes: bool = False,
         on_progress: Progress | None = None, should_stop: ShouldStop | None = None) -> Iterator[Scanned]:
    """Yield one Scanned per path, in order, as batches finish. `detector`: an
    infer.detector.Detector (its `detect(images, layers=True)` is used)."""
    total = len(paths)
    done = 0
    for start in range(0, total, max(1, batch_size)):
        if should_stop is not None and should_stop():
            return
        chunk = list(enumerate(paths[start:start + batch_size], start=start))
        loaded, failed = [], []
        for i, path in chunk:
            try:
                loaded.append((i, Path(path), load_image(path)))
            except ImageError as e:
                failed.append(Scanned(i, Path(path), None, str(e)))
        outputs = detector.detect([im for _, _, im in loaded], layers=True) if loaded else []
        results = failed + [Scanned(i, p, ImagePredictions.from_detections(det),
                                    phash=str(imagehash.phash(im)) if hashes else None)
                            for (i, p, im), det in zip(loaded, outputs)]
        for item in sorted(results, key=lambda s: s.index):
            done += 1
            if on_progress is not None:
                on_progress(done, total)
            yield item


def phash_distance(a: str, b: str) -> int:
    """Hamming distance between two hex perceptual hashes."""
    return imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b)


def image_phash(image: Image.Image) -> str:
    return str(imagehash.phash(image))
