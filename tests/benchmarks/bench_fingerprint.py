"""Model fingerprint benchmark: how long the weights SHA-256 (app/model/fingerprint.py) adds to
a checkpoint load on the detector thread, for the demo model and a DETR-R50-sized model.

    .venv/bin/python -m tests.benchmarks.bench_fingerprint [--runs 3]

The R50 model is built from its config with random weights (no download). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from app.model.fingerprint import fingerprint

DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "demo.pth"


def _models():
    from detr_core.checkpoints import load_checkpoint
    from detr_core.model.config import ModelConfig
    from detr_core.model.detr import build

    demo = load_checkpoint(str(DEMO))
    yield "demo.pth", demo.model, demo.config, demo.class_names
    config = ModelConfig()  # the reference DETR-R50
    torch.manual_seed(0)
    yield "DETR-R50 (random weights)", build(config), config, [str(i) for i in range(config.num_classes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("| model | parameters | MB | fingerprint (median of %d) |" % args.runs)
    print("|---|---:|---:|---:|")
    for name, model, config, class_names in _models():
        params = sum(p.numel() for p in model.parameters())
        size = sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 2**20
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            fingerprint(model, config, class_names)
            times.append(time.perf_counter() - started)
        print(f"| {name} | {params / 1e6:.1f} M | {size:.0f} | {statistics.median(times) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
