"""What a fine-tuning job trains on: a plan of the current annotations (which images, the
train/validation split, counts per class, reasons to refuse) and the snapshot files written into
the run folder at start (no Qt).

The job never reads the document being edited: at start the window takes a deep copy
(`CocoDocument.to_json()`), and the snapshot (RUN/data/train.json, val.json, snapshot.json) is
written from that copy. The JSON files keep the document's file names; the job gets the image
folder with --train-images / --val-images.

Images that go in: those with boxes, and reviewed images without boxes (checked: nothing there,
they train as background). Not: images never labelled, or marked "unlabelled". With
`reviewed_only`, only reviewed images.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from detr_core.atomic import atomic_write_json
from detr_core.coco import CocoDocument
from detr_core.coco.split import split_image_ids
from detr_core.errors import WorkbenchError

from ..document.entries import STATUS_KEY
from .command import DataFiles

VALIDATIONS = ("split", "file", "none")
_SHOWN = 5


@dataclass(frozen=True)
class DataChoice:
    reviewed_only: bool = False
    validation: str = "split"  # "split": part of the annotations; "file": another COCO file; "none"
    val_fraction: float = 0.2
    seed: int = 42  # of the split (same seed, same split)
    val_json: Path | None = None  # validation == "file"
    val_images: Path | None = None  # its image folder (None: found next to it)


@dataclass
class ClassCount:
    name: str
    train_boxes: int = 0
    val_boxes: int = 0


@dataclass
class DataPlan:
    choice: DataChoice
    train_ids: list[int] = field(default_factory=list)
    val_ids: list[int] = field(default_factory=list)
    classes: list[ClassCount] = field(default_factory=list)
    train_boxes: int = 0
    val_boxes: int = 0
    max_boxes: int = 0  # most boxes in one training image
    val_images: int = 0
    val_document: CocoDocument | None = None  # validation == "file"
    problems: list[str] = field(default_factory=list)  # any: the job is refused
    warnings: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        val = f"{self.val_images} images, {self.val_boxes} boxes" if self.choice.validation != "none" else "none"
        return f"Training: {len(self.train_ids)} images, {self.train_boxes} boxes · Validation: {val}"


def _names(items: list[str]) -> str:
    more = f" (and {len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def selected_image_ids(data: dict, reviewed_only: bool) -> tuple[list[int], dict[str, int]]:
    """Image ids that go into training, in file order, and {reason: count} of those left out."""
    boxed = {a["image_id"] for a in data["annotations"]}
    chosen, left_out = [], {}
    for image in data["images"]:
        status = image.get(STATUS_KEY)
        if reviewed_only and status != "reviewed":
            reason = "not reviewed"
        elif image["id"] not in boxed and status != "reviewed":
            reason = "without boxes and not reviewed"
        elif status == "unlabelled":
            reason = "marked unlabelled"
        else:
            chosen.append(image["id"])
            continue
        left_out[reason] = left_out.get(reason, 0) + 1
    return chosen, left_out


def _subset(data: dict, image_ids) -> dict:
    """The COCO object with only these images and their boxes (shares the records: read-only)."""
    keep = set(image_ids)
    return {**data, "images": [im for im in data["images"] if im["id"] in keep],
            "annotations": [a for a in data["annotations"] if a["image_id"] in keep]}


def _missing(doc: CocoDocument, image_ids) -> list[str]:
    return [doc.image(i)["file_name"] for i in image_ids if not doc.image_path(i).is_file()]


def plan_data(data: dict, image_root: Path, choice: DataChoice) -> DataPlan:
    """Which images and boxes a job would train and validate on, and whether it can run. `data` is
    read, never changed."""
    plan = DataPlan(choice)
    if not data["categories"]:
        plan.problems.append("The annotations have no classes: add a class and draw boxes first.")
        return plan
    chosen, left_out = selected_image_ids(data, choice.reviewed_only)
    if left_out:
        plan.warnings.append("Left out: " + ", ".join(f"{n} {why}" for why, n in left_out.items()) + ".")
    if not chosen:
        plan.problems.append("No reviewed images: mark checked images reviewed (Space), or use all "
                             "labelled images." if choice.reviewed_only else
                             "No labelled images: draw boxes or accept predictions first.")
        return plan
    doc = CocoDocument(_subset(data, chosen), image_root)
    plan.train_ids = list(chosen)
    if choice.validation == "split":
        if len(chosen) < 2:
            plan.problems.append(f"{len(chosen)} image: too few to split off a validation set; "
                                 "choose no validation or a separate validation file.")
        else:
            plan.train_ids, plan.val_ids, unsatisfied = split_image_ids(doc, choice.val_fraction, choice.seed)
            plan.val_images = len(plan.val_ids)
            if unsatisfied:
                plan.warnings.append("Only in one part of the split: " + _names(
                    [doc.category(c)["name"] for c in unsatisfied]) + ".")
    elif choice.validation == "file":
        _plan_val_file(plan, choice)
    _count(plan, doc)
    missing = _missing(doc, chosen)
    if missing:
        plan.problems.append(f"{len(missing)} of {len(chosen)} image files are missing from {image_root}: "
                             f"{_names(missing)}.")
    return plan


def _plan_val_file(plan: DataPlan, choice: DataChoice) -> None:
    if choice.val_json is None:
        plan.problems.append("Choose the validation COCO file.")
        return
    try:
        val, _report = CocoDocument.load(choice.val_json, choice.val_images)
    except WorkbenchError as e:
        plan.problems.append(f"Validation file: {e}")
        return
    plan.val_document = val
    plan.val_images = len(val.images)
    plan.val_boxes = len(val.annotations)
    if not val.images:
        plan.problems.append(f"{choice.val_json}: no images to validate on.")
    missing = _missing(val, [im["id"] for im in val.images])
    if missing:
        plan.problems.append(f"{len(missing)} validation images are missing from {val.image_root}: "
                             f"{_names(missing)}.")


def _count(plan: DataPlan, doc: CocoDocument) -> None:
    counts = {c["id"]: ClassCount(c["name"]) for c in doc.categories}
    val = set(plan.val_ids)
    per_image: dict[int, int] = {}
    for ann in doc.annotations:
        c = counts.get(ann["category_id"])
        if c is None:
            continue
        if ann["image_id"] in val:
            c.val_boxes += 1
        else:
            c.train_boxes += 1
            per_image[ann["image_id"]] = per_image.get(ann["image_id"], 0) + 1
    plan.max_boxes = max(per_image.values(), default=0)
    if plan.val_document is not None:
        by_name = {c.name: c for c in counts.values()}
        for ann in plan.val_document.annotations:
            c = by_name.get(plan.val_document.category(ann["category_id"])["name"])
            if c is not None:
                c.val_boxes += 1
    plan.classes = list(counts.values())
    plan.train_boxes = sum(c.train_boxes for c in plan.classes)
    if plan.val_document is None:
        plan.val_boxes = sum(c.val_boxes for c in plan.classes)
    if plan.train_boxes == 0:
        plan.problems.append("The training images have no boxes: nothing to learn from.")
    empty = [c.name for c in plan.classes if c.train_boxes == 0]
    if empty and plan.train_boxes:
        plan.warnings.append(f"No training boxes for {_names(empty)}: the model keeps these classes "
                             "but cannot learn them.")
    background = sum(1 for i in plan.train_ids if not doc.annotations_for(i))
    if background:
        plan.warnings.append(f"{background} reviewed images without boxes train as background.")


def write_snapshot(data: dict, image_root: Path, choice: DataChoice, run_dir: Path,
                   source: str = "") -> tuple[DataFiles, DataPlan]:
    """Plan `data` (a copy the caller no longer edits) and write the job's files into
    RUN/data/. Raises WorkbenchError with the plan's first problem if it cannot be used."""
    plan = plan_data(data, image_root, choice)
    if not plan.usable:
        raise WorkbenchError(plan.problems[0])
    folder = Path(run_dir) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    train_json = folder / "train.json"
    atomic_write_json(train_json, _subset(data, plan.train_ids))
    files = DataFiles(train_json, Path(image_root))
    if choice.validation == "split":
        atomic_write_json(folder / "val.json", _subset(data, plan.val_ids))
        files = DataFiles(train_json, Path(image_root), folder / "val.json", Path(image_root))
    elif choice.validation == "file":
        val = plan.val_document
        atomic_write_json(folder / "val.json", val.to_json())
        files = DataFiles(train_json, Path(image_root), folder / "val.json", val.image_root)
    atomic_write_json(folder / "snapshot.json", {
        "source": source, "image_root": str(image_root), "taken": time.time(),
        "choice": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(choice).items()},
        "train_images": len(plan.train_ids), "val_images": plan.val_images,
        "train_boxes": plan.train_boxes, "val_boxes": plan.val_boxes,
        "classes": [asdict(c) for c in plan.classes], "warnings": plan.warnings}, indent=2)
    return files, plan
