"""COCO category names by category id, as the official DETR models number their classes.

COCO ids run 1..90 with gaps (80 categories); DETR's class head has 91 classes (max id + 1), so
index = COCO category id and the ids COCO skips, including 0, are "N/A".
"""
from __future__ import annotations

NA = "N/A"

COCO_CLASS_NAMES: tuple[str, ...] = (
    NA, "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", NA, "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", NA, "backpack",
    "umbrella", NA, NA, "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard",
    "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", NA, "wine glass", "cup", "fork", "knife", "spoon", "bowl",
    "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut",
    "cake", "chair", "couch", "potted plant", "bed", NA, "dining table", NA, NA, "toilet", NA,
    "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster",
    "sink", "refrigerator", NA, "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)
assert len(COCO_CLASS_NAMES) == 91

NUM_COCO_CLASSES = len(COCO_CLASS_NAMES)  # 91 = max COCO category id + 1


def default_class_names(num_classes: int) -> list[str]:
    """Names for a checkpoint that carries none: COCO's when it has COCO's 91 classes, else
    "class_<i>" for i in 0..num_classes-1."""
    if num_classes == NUM_COCO_CLASSES:
        return list(COCO_CLASS_NAMES)
    return [f"class_{i}" for i in range(num_classes)]
