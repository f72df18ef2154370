"""Benchmark (run by hand, not a test): the review queue's proof table. Held-out synthetic images
(detr_core.data.synthetic, seed 41: neither the demo model's training seed nor the set the review
defaults were chosen on) get known mistakes injected (removed, swapped, shifted, duplicated boxes;
and, in a second table, spurious boxes), the bundled demo model scores them, and the table says how
many mistakes the ranked queue puts in its top 10 / 20 / 50 % of images against a random order,
and how often it names each mistake with the right kind of reason.

    .venv/bin/python -m tests.benchmarks.bench_review                  # 200 images, 5 injections
    .venv/bin/python -m tests.benchmarks.bench_review --images 100 --injections 3

The detector runs once per image (the labels do not change its predictions); each injection is
scored on the same predictions. Prints markdown tables and the time per image.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from detr_core.data.synthetic import write_dataset  # noqa: E402
from detr_core.infer.detector import Detector  # noqa: E402
from detr_core.review import (ClassMapping, ReviewConfig, inject_mistakes, labels_by_image,  # noqa: E402
                              rank_quality, reason_accuracy, score_image)
from detr_core.review.inject import KINDS  # noqa: E402
from detr_core.review.scan import scan  # noqa: E402

FRACTIONS = (0.1, 0.2, 0.5)


def run_table(coco, predictions, detector, kinds, injections: int, cfg: ReviewConfig) -> tuple[list[str], float]:
    mapping = ClassMapping.build(detector.class_names, coco["categories"], detector.category_ids)
    sums = {f: np.zeros(3) for f in FRACTIONS}  # precision, recall, random recall
    reasons: dict[str, list[int]] = {}
    mistakes_total, started = 0, time.perf_counter()
    for seed in range(injections):
        bad, mistakes = inject_mistakes(coco, fraction=0.1, seed=seed, kinds=kinds)
        reviews = [score_image(labels, p, detector.class_names, cfg)
                   for labels, p in zip(labels_by_image(bad, mapping), predictions)]
        ranked = sorted(reviews, key=lambda r: -r.score)
        shuffled = [ranked[i] for i in np.random.default_rng(100 + seed).permutation(len(ranked))]
        for q, r in zip(rank_quality(ranked, mistakes, FRACTIONS), rank_quality(shuffled, mistakes, FRACTIONS)):
            sums[q.fraction] += [q.precision, q.recall, r.recall]
        for kind, (right, total) in reason_accuracy(ranked, mistakes).items():
            reasons.setdefault(kind, [0, 0])
            reasons[kind][0] += right
            reasons[kind][1] += total
        mistakes_total += len(mistakes)
    per_image = (time.perf_counter() - started) / (injections * len(predictions))
    lines = [f"{mistakes_total} mistakes ({', '.join(kinds)}) in {injections} injections of "
             f"{len(predictions) // 10} into {len(predictions)} images", "",
             "| top of the queue | images | precision | recall | recall, random order |",
             "|---|---|---|---|---|"]
    for f in FRACTIONS:
        p, r, rr = sums[f] / injections
        lines.append(f"| {f:.0%} | {max(1, round(f * len(predictions)))} | {p:.2f} | {r:.2f} | {rr:.2f} |")
    right = sum(v[0] for v in reasons.values())
    lines += ["", "| mistake | right kind of reason |", "|---|---|"]
    lines += [f"| {k} | {v[0]}/{v[1]} ({v[0] / v[1]:.0%}) |" for k, v in reasons.items()]
    lines.append(f"| all | {right}/{mistakes_total} ({right / mistakes_total:.0%}) |")
    return lines, per_image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--injections", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    detector = Detector.from_checkpoint(ROOT / "resources" / "models" / "demo.pth", device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_dataset(folder, args.images, seed=41, name="bench")
        coco = json.loads((folder / "annotations.json").read_text())
        paths = [folder / "images" / im["file_name"] for im in coco["images"]]
        started = time.perf_counter()
        predictions = [s.predictions for s in scan(detector, paths, batch_size=args.batch_size)]
        scan_time = (time.perf_counter() - started) / len(paths)
    cfg = ReviewConfig()
    main_table, score_time = run_table(coco, predictions, detector, KINDS, args.injections, cfg)
    extra_table, _ = run_table(coco, predictions, detector, KINDS + ("spurious",), args.injections, cfg)
    print("\n".join(main_table))
    print()
    print("\n".join(extra_table))
    print(f"\ndetector (every decoder layer): {scan_time * 1000:.0f} ms/image; findings (cleanlab + checks): "
          f"{score_time * 1000:.0f} ms/image; torch threads {__import__('torch').get_num_threads()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
