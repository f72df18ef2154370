"""The bundled demo model (resources/models/demo.pth, `make demo-model`): small enough to commit,
accurate on held-out synthetic images, and its cross-attention lands on the objects it finds."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detr_core.checkpoints import load_checkpoint
from detr_core.coco.metrics import coco_metrics
from detr_core.infer.detector import Detector
from detr_core.data.synthetic import CLASSES

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "models" / "demo.pth"
SAMPLES = ROOT / "resources" / "samples"


def attention_inside_box(det, query: int) -> tuple[float, float]:
    """(share of the query's last-layer cross-attention (mean over heads) that falls inside its
    predicted box, share of the image the box covers): attention painted over the image pixels."""
    maps = det.attention
    heat = maps.upsample(maps.decoder[query], smooth=False)  # [H, W] over the original image
    x0, y0, x1, y1 = (int(round(v)) for v in det.boxes_xyxy[query])
    inside = heat[max(y0, 0):y1, max(x0, 0):x1].sum()
    return float(inside / heat.sum()), (x1 - x0) * (y1 - y0) / heat.size


@pytest.fixture(scope="module")
def demo():
    assert DEMO.is_file(), f"{DEMO} is missing: run `make demo-model`"
    return load_checkpoint(DEMO)


@pytest.fixture(scope="module")
def sample_run(demo):
    detector = Detector(demo.model, demo.config, demo.class_names, device="cpu")
    gt = json.loads((SAMPLES / "annotations.json").read_text())
    detections = {im["id"]: detector(SAMPLES / "images" / im["file_name"], attention=True)
                  for im in gt["images"]}
    return gt, detections


def test_demo_checkpoint_is_small_and_describes_itself(demo):
    assert DEMO.stat().st_size <= 10 * 1024 * 1024
    assert demo.kind == "project" and demo.class_names == list(CLASSES)
    assert demo.metadata["category_ids"] == [1, 2, 3, 4, 5]
    assert demo.metadata["metrics"]["AP50"] >= 0.9  # on its 200 validation images, after training


@pytest.mark.slow
def test_demo_detects_held_out_samples(sample_run):
    gt, detections = sample_run
    assert 20 <= len(gt["images"]) <= 40
    results = [r for image_id, det in detections.items() for r in det.to_coco(image_id, category_ids={
        i: i + 1 for i in range(len(CLASSES))})]
    metrics = coco_metrics(gt, results)
    assert metrics["AP50"] >= 0.9, metrics


@pytest.mark.slow
def test_cross_attention_lands_on_the_detected_objects(sample_run):
    _, detections = sample_run
    inside, area = [], []
    for det in detections.values():
        for d in det.filter(0.7):
            share, covered = attention_inside_box(det, d.query)
            inside.append(share)
            area.append(covered)
    assert len(inside) >= 40
    # Spread evenly, attention would put ~`area` of its mass in the box (~4 % on average here).
    assert np.mean(inside) >= 0.5 and np.median(inside) >= 0.5
    assert np.mean(inside) >= 8 * np.mean(area)
