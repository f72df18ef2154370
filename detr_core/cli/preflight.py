"""`detr-workbench preflight`: check a training set (and the model) before a long run.

One line per finding on stdout, "error: ...", "warning: ..." or "ok: ..." (with --json, one JSON
object per line instead). Exit codes: 0 no errors, 4 errors found (the fine-tune dialog and
`train --preflight` refuse to start unless told to go on anyway), 1 the check itself failed (one
line naming the file), 2 bad usage. Nothing is written.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_FINDINGS = 4


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preflight", help="check training data and model before a long run",
                       description="Data health that only a DETR tool knows, and a one-batch overfit "
                                   "check of the starting model.",
                       epilog="Exit codes: 0 fine, 4 errors found, 1 the check failed.")
    add_arguments(p)
    p.add_argument("--json", action="store_true", help="one JSON object per finding")
    p.set_defaults(func=run_command)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options `train` shares (data, model, resolution)."""
    p.add_argument("--train-json", type=Path, required=True)
    p.add_argument("--train-images", type=Path)
    p.add_argument("--val-json", type=Path)
    p.add_argument("--val-images", type=Path)
    p.add_argument("--checkpoint")
    p.add_argument("--config")
    p.add_argument("--resolution")
    p.add_argument("--overfit-steps", type=int, default=40, help="0: skip the one-batch overfit check")


def run_preflight(train_json: Path, train_images: Path | None, val_json: Path | None, val_images: Path | None,
                  checkpoint: str | None, config: str | None, resolution: str | None,
                  overfit_steps: int = 40, seed: int = 0) -> list:
    """The findings (train/preflight.Finding) of the data and the starting model."""
    from ..train import setup
    from ..train.preflight import Finding, check_data
    from ..train.preflight_overfit import overfit_findings, run_overfit
    from ..errors import DatasetError, ImageError
    from ..model.config import preset

    loaded_base = None
    if checkpoint:
        from ..checkpoints import load_checkpoint

        loaded_base = load_checkpoint(checkpoint)
        base_config = loaded_base.config
    else:
        base_config = preset(config or "small")
    res = setup.pick_resolution(resolution, base_config)
    try:
        loaded = setup.load_data(train_json, train_images, val_json, val_images, res, hflip=False, seed=seed)
    except (DatasetError, ImageError) as e:
        return [Finding("error", "read", str(e))]
    data = loaded.data
    summary = loaded.summaries[0][1]
    findings = check_data(data.train, data.val, num_queries=base_config.num_queries, resolution=res,
                          clipped=summary.clipped, path=str(train_json))
    if overfit_steps and sum(len(r.labels) for r in data.train.records):
        if loaded_base is not None:
            start = setup.from_checkpoint(loaded_base, data.class_map, res, seed)
        else:
            start = setup.from_scratch(config or "small", data.class_map, data, res, seed)
        result = run_overfit(start.model, data.train, res, steps=overfit_steps, from_scratch=start.from_scratch)
        findings += overfit_findings(result, overfit_steps)
    return findings


def failed(findings: list) -> bool:
    return any(f.severity == "error" for f in findings)


def run_command(args: argparse.Namespace) -> int:
    findings = run_preflight(args.train_json, args.train_images, args.val_json, args.val_images,
                             args.checkpoint, args.config, args.resolution, args.overfit_steps)
    for f in findings:
        print(json.dumps(f.to_dict()) if args.json else f.line(), flush=True)
    if failed(findings):
        print(f"detr-workbench preflight: {sum(f.severity == 'error' for f in findings)} errors",
              file=sys.stderr)
        return EXIT_FINDINGS
    return 0
