"""What loading a training or validation set found, printed at the start of a run."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DatasetSummary:
    path: str  # the annotations file
    image_root: str
    images: int = 0
    images_without_boxes: int = 0  # valid negatives
    annotations: int = 0  # in the file
    boxes: int = 0  # used for training / evaluation
    crowd_ignored: int = 0  # iscrowd=1: not trained on (pycocotools ignores them in evaluation)
    clipped: int = 0  # boxes cut back to the image
    dropped_degenerate: int = 0  # zero width or height (after clipping): dropped
    size_mismatch: int = 0  # images whose JSON width/height differ from the file (file used)
    per_class: dict[str, int] = field(default_factory=dict)  # class name -> boxes used
    warnings: list[str] = field(default_factory=list)  # from loading the COCO file, and ours

    def warning_messages(self) -> list[str]:
        """What loading fixed or found wrong, one message each, with counts (the train command
        sends these as "warning" events; `lines` prints them)."""
        fixes = [(self.crowd_ignored, "crowd boxes ignored"),
                 (self.clipped, "boxes clipped to their image"),
                 (self.dropped_degenerate, "zero-size boxes dropped"),
                 (self.size_mismatch, "images whose JSON width/height differ from the file "
                                      "(the file's size is used)")]
        return [f"{n} {what}" for n, what in fixes if n] + list(self.warnings)

    def lines(self, title: str) -> list[str]:
        """Human-readable summary, one fact per line, warnings with counts."""
        out = [f"{title}: {self.path} (images in {self.image_root})",
               f"  {self.images} images ({self.images_without_boxes} without boxes), "
               f"{self.boxes} boxes used of {self.annotations} annotations, {len(self.per_class)} classes"]
        return out + [f"  warning: {w}" for w in self.warning_messages()]

    def to_dict(self) -> dict:
        return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items()}
