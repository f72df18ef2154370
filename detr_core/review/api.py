"""The review in one call, for scripts and the CLI: load a checkpoint and a COCO file (or a folder
of unlabelled images), score every image as it comes, return the ranked queue.

    from detr_core.review import review_labelled
    queue = review_labelled("model.pth", "annotations.json", on_image=print)
    queue.write("findings.json")
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from .config import ReviewConfig
from .honesty import Honesty, check_honesty
from .labels import ClassMapping
from .queue import ImageReview, ReviewQueue
from .scan import Progress, ShouldStop

OnImage = Callable[[ImageReview], None]
OnStart = Callable[[ReviewQueue], None]  # the queue, still empty: its honesty and class mapping


def _detector(checkpoint, device: str, precision: str):
    from ..checkpoints import load_checkpoint
    from ..infer.detector import Detector

    loaded = load_checkpoint(checkpoint)
    detector = Detector(loaded.model, loaded.config, loaded.class_names, device=device, precision=precision,
                        description=loaded.description, category_ids=loaded.metadata.get("category_ids"))
    return detector, loaded.metadata


def review_labelled(checkpoint: str | Path, coco_json: str | Path, image_root: str | Path | None = None, *,
                    cfg: ReviewConfig = ReviewConfig(), device: str = "auto", precision: str = "fp32",
                    batch_size: int = 4, on_image: OnImage | None = None, on_progress: Progress | None = None,
                    should_stop: ShouldStop | None = None, on_start: OnStart | None = None) -> ReviewQueue:
    """Findings on every image of a COCO file, ranked. Raises DatasetError for a file that cannot
    be used, or whose categories none of the model's classes maps to (by id or by name); images
    that fail to load are listed in `queue.failed`."""
    from ..coco.io import read_coco
    from ..errors import DatasetError

    loaded = read_coco(Path(coco_json), image_root)
    if loaded.report.problems:
        raise DatasetError(f"{coco_json}: {loaded.report.problems[0]}")
    detector, metadata = _detector(checkpoint, device, precision)
    coco = loaded.data
    mapping = ClassMapping.build(detector.class_names, coco.get("categories", []), detector.category_ids)
    mapping.require_some(coco_json)
    honesty = check_honesty(metadata, coco.get("images", []), Path(coco_json))
    queue = ReviewQueue("labelled", detector.description, honesty, mapping.note, cfg)
    if on_start:
        on_start(queue)
    from .labelled import iter_labelled

    for review in iter_labelled(detector, coco, loaded.image_root, cfg, mapping=mapping, honesty=honesty,
                                batch_size=batch_size, on_progress=on_progress, should_stop=should_stop,
                                where=coco_json):
        queue.add(review)
        if on_image:
            on_image(review)
    return queue


def review_unlabelled(checkpoint: str | Path, images: str | Path | Sequence[str | Path], *,
                      previous: str | Path | None = None, cfg: ReviewConfig = ReviewConfig(),
                      device: str = "auto", precision: str = "fp32", batch_size: int = 4,
                      on_image: OnImage | None = None, on_progress: Progress | None = None,
                      should_stop: ShouldStop | None = None, on_start: OnStart | None = None) -> ReviewQueue:
    """Unlabelled images (a folder, searched recursively, or a list of files) ranked by the
    model's uncertainty, near-duplicates spread out. `previous`: the previous model's checkpoint,
    for the disagreement term."""
    from ..images import list_images
    from .unlabelled import iter_unlabelled

    root = Path(images) if isinstance(images, (str, Path)) else None
    paths = list_images(root) if root is not None else [Path(p) for p in images]
    if root is not None and root.is_file():
        root = root.parent
    detector, _ = _detector(checkpoint, device, precision)
    before = _detector(previous, device, precision)[0] if previous is not None else None
    queue = ReviewQueue("unlabelled", detector.description,
                        Honesty("out-of-sample", "unlabelled images: the model cannot have fitted labels they do not have"),
                        "", cfg)
    if on_start:
        on_start(queue)
    for review in iter_unlabelled(detector, paths, cfg, previous=before, root=root, batch_size=batch_size,
                                  on_progress=on_progress, should_stop=should_stop):
        queue.add(review)
        if on_image:
            on_image(review)
    return queue
