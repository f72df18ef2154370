"""`Finding`: one box the review queue points at, and why (no torch: the window reads findings
from the review job's JSON lines). `KINDS` are the kinds of finding."""
from __future__ import annotations

from dataclasses import asdict, dataclass

KINDS = ("missing", "badly_placed", "wrong_class", "spurious", "conflict", "duplicate")


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    reason: str  # one line for a person
    score: float  # 0..1, higher = more likely a mistake
    annotation_id: int | None = None  # the label it is about (None: a missing box)
    label_box: tuple[float, float, float, float] | None = None  # pixel xyxy
    label_class: str | None = None
    model_box: tuple[float, float, float, float] | None = None  # the model's fix, pixel xyxy
    model_class: str | None = None
    model_score: float | None = None
    iou: float | None = None  # between label_box and model_box
    other_annotation_id: int | None = None  # conflict / duplicate: the other label
    query: int | None = None  # the DETR query behind it (for a label: the matcher's)
    query_entropy: float | None = None  # of that query's class distribution, 0..1
    layer_class_spread: float | None = None  # across decoder layers, 0..1
    layer_box_spread: float | None = None  # normalised L1 across decoder layers
    top_classes: tuple[tuple[str, float], ...] = ()  # that query's 3 most likely outcomes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["top_classes"] = [list(t) for t in self.top_classes]
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "Finding":
        values = dict(d)
        for key in ("label_box", "model_box"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        values["top_classes"] = tuple(tuple(t) for t in values.get("top_classes", ()))
        return cls(**values)
