"""Did B get better than A? ΔAP, ΔAP50, ΔAR100 with a paired bootstrap 95 % interval over images.

    summary = compare_results(gt, results_a, results_b)     # COCO results lists (every query)
    print(format_summary(summary))

Point estimates are pycocotools' own (`coco.metrics.coco_metrics`). The interval resamples the
images with replacement, the same images for A and B (paired), and recomputes both models' AP on
each resample from pycocotools' per-image matches (`fast_ap`); it is the 2.5 and 97.5 percentile
of B - A. A difference whose interval spans 0 is reported as not significant.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..coco.metrics import coco_metrics
from .fast_ap import ImageMatches
from .outcomes import ERROR_TYPES, Boxes, image_outcomes

DELTAS = ("AP", "AP50", "AR100")


@dataclass(frozen=True)
class CompareConfig:
    iou: float = 0.5  # a prediction is a true positive at IoU >= this with a same-class label
    threshold: float = 0.5  # object outcomes use predictions at or above this score
    pair_iou: float = 0.5  # A's and B's predictions at one place: Hungarian pairs at IoU >= this
    move_delta: float = 0.1  # a kept label "moved" when its IoU changed by at least this
    bootstrap: int = 1000  # resamples for the interval (0: none)
    seed: int = 0


@dataclass
class Comparison:
    metrics_a: dict  # pycocotools metrics of A (coco_metrics)
    metrics_b: dict
    deltas: dict  # name -> {"delta", "low", "high", "significant"}
    per_class: list  # [{"class", "ap_a", "ap_b", "delta"}], worst delta first
    counts: dict  # outcome -> number of objects
    errors_a: dict  # TIDE error type -> count
    errors_b: dict
    records: list  # per-object outcome records (outcomes.image_outcomes)
    broke_per_image: dict  # image_id -> number of "broke" labels
    images: int
    skipped: list = field(default_factory=list)  # images that could not be read
    left_out_classes: list = field(default_factory=list)  # classes only one model (or no model) has
    config: CompareConfig = field(default_factory=CompareConfig)

    def to_json(self) -> dict:
        return {"metrics_a": self.metrics_a, "metrics_b": self.metrics_b, "deltas": self.deltas,
                "per_class": self.per_class, "counts": self.counts, "errors_a": self.errors_a,
                "errors_b": self.errors_b, "broke_per_image": {str(k): v for k, v in self.broke_per_image.items()},
                "images": self.images, "skipped": self.skipped, "left_out_classes": self.left_out_classes,
                "config": vars(self.config), "objects": self.records}


def _bootstrap(ma: ImageMatches, mb: ImageMatches, config: CompareConfig) -> dict:
    """name -> array of B - A over resampled image lists (NaN where undefined)."""
    n = len(ma.image_ids)
    rng = np.random.default_rng(config.seed)
    out = {name: np.full(config.bootstrap, np.nan) for name in DELTAS}
    for s in range(config.bootstrap if n else 0):
        rows = rng.integers(0, n, size=n)
        sa, sb = ma.summary(rows), mb.summary(rows)
        for name in DELTAS:
            if sa[name] is not None and sb[name] is not None:
                out[name][s] = sb[name] - sa[name]
    return out


def _delta(name: str, metrics_a: dict, metrics_b: dict, samples: np.ndarray) -> dict:
    a, b = metrics_a.get(name), metrics_b.get(name)
    delta = None if a is None or b is None else b - a
    ok = samples[np.isfinite(samples)]
    low, high = (float(np.percentile(ok, 2.5)), float(np.percentile(ok, 97.5))) if ok.size else (None, None)
    significant = low is not None and (low > 0 or high < 0)
    return {"a": a, "b": b, "delta": delta, "low": low, "high": high, "significant": significant}


def compare_results(gt: dict, results_a: list[dict], results_b: list[dict],
                    config: CompareConfig = CompareConfig(), image_ids: list[int] | None = None) -> Comparison:
    """Compare two COCO result sets (every query, scores down to 0) on the labels of `gt`."""
    ids = sorted(image_ids if image_ids is not None else [im["id"] for im in gt["images"]])
    metrics_a, metrics_b = coco_metrics(gt, results_a, ids), coco_metrics(gt, results_b, ids)
    ma, mb = ImageMatches.from_results(gt, results_a, ids), ImageMatches.from_results(gt, results_b, ids)
    samples = _bootstrap(ma, mb, config) if config.bootstrap else {n: np.array([]) for n in DELTAS}
    deltas = {name: _delta(name, metrics_a, metrics_b, samples[name]) for name in DELTAS}
    per_class = []
    for name in metrics_a["per_class"]:
        ap_a, ap_b = metrics_a["per_class"][name], metrics_b["per_class"].get(name)
        if ap_a is not None and ap_b is not None:
            per_class.append({"class": name, "ap_a": ap_a, "ap_b": ap_b, "delta": ap_b - ap_a})
    per_class.sort(key=lambda r: r["delta"])
    labels_by_image: dict[int, list] = {i: [] for i in ids}
    for ann in gt["annotations"]:
        if ann["image_id"] in labels_by_image and not ann.get("iscrowd", 0):
            labels_by_image[ann["image_id"]].append(ann)
    preds = ({i: [] for i in ids}, {i: [] for i in ids})
    for side, results in zip(preds, (results_a, results_b)):
        for r in results:
            if r["image_id"] in side:
                side[r["image_id"]].append(r)
    records, errors_a, errors_b = [], Counter(), Counter()
    for i in ids:
        recs, ea, eb = image_outcomes(i, Boxes.from_coco(labels_by_image[i]),
                                      Boxes.from_coco(preds[0][i], "query").above(config.threshold),
                                      Boxes.from_coco(preds[1][i], "query").above(config.threshold),
                                      iou=config.iou, pair_iou=config.pair_iou, move_delta=config.move_delta)
        records += recs
        errors_a.update(ea)
        errors_b.update(eb)
    counts = Counter(r["outcome"] for r in records)
    counts["moved"] = sum(1 for r in records if r.get("moved"))
    broke = Counter(r["image_id"] for r in records if r["outcome"] == "broke")
    return Comparison(metrics_a, metrics_b, deltas, per_class,
                      {k: counts.get(k, 0) for k in ("fixed", "broke", "kept", "moved", "missed", "new_fp",
                                                      "removed_fp", "kept_fp", "class_changed")},
                      {k: errors_a.get(k, 0) for k in ERROR_TYPES}, {k: errors_b.get(k, 0) for k in ERROR_TYPES},
                      records, {i: broke.get(i, 0) for i in ids}, len(ids), config=config)


def _pct(x) -> str:
    return "   -  " if x is None else f"{100 * x:6.1f}"


def format_summary(c: Comparison) -> str:
    """The summary as a plain-text table (percent points)."""
    lines = [f"{'metric':8} {'A':>6} {'B':>6} {'B-A':>6}  95% interval     verdict"]
    for name, d in c.deltas.items():
        interval = "      -        " if d["low"] is None else f"[{_pct(d['low'])}, {_pct(d['high'])}]"
        verdict = "-" if d["delta"] is None else (("better" if d["delta"] > 0 else "worse")
                                                  if d["significant"] else "not significant")
        lines.append(f"{name:8} {_pct(d['a'])} {_pct(d['b'])} {_pct(d['delta'])}  {interval}  {verdict}")
    k = c.counts
    lines.append(f"objects: fixed {k['fixed']}, broke {k['broke']}, kept {k['kept']} (moved {k['moved']}), "
                 f"missed by both {k['missed']}; false positives new {k['new_fp']}, removed {k['removed_fp']}, "
                 f"kept {k['kept_fp']}; class changed {k['class_changed']}")
    lines.append("errors (A -> B): " + ", ".join(f"{t} {c.errors_a[t]}->{c.errors_b[t]}" for t in ERROR_TYPES))
    if c.per_class:
        worst = ", ".join(f"{r['class']} {100 * r['delta']:+.1f}" for r in c.per_class[:5])
        lines.append(f"per-class ΔAP, worst first: {worst}")
    lines.append(f"images: {c.images}" + (f", skipped (unreadable): {len(c.skipped)}" if c.skipped else "")
                 + (f"; classes left out: {', '.join(c.left_out_classes)}" if c.left_out_classes else ""))
    return "\n".join(lines)
