"""Test helpers over the bundled files: a few of the bundled samples as a COCO file of their own,
and a changed copy of the bundled demo model (a different, worse model in the project format)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples"
DEMO = ROOT / "resources" / "models" / "demo.pth"


def sample_subset(folder: Path, n: int) -> tuple[Path, dict]:
    """The first n bundled samples (with copies of their images) as `folder`/annotations.json;
    returns its path and the COCO dict written."""
    gt = json.loads((SAMPLES / "annotations.json").read_text())
    gt["images"] = gt["images"][:n]
    keep = {im["id"] for im in gt["images"]}
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in keep]
    (folder / "images").mkdir(parents=True)
    for im in gt["images"]:
        shutil.copy(SAMPLES / "images" / Path(im["file_name"]).name, folder / "images")
    (folder / "annotations.json").write_text(json.dumps(gt))
    return folder / "annotations.json", gt


def changed_demo_model(path: Path, scale: float = 0.05, seed: int = 0) -> Path:
    """The demo model with noise on its class and box heads, saved to `path` with the demo
    model's classes and category ids."""
    from detr_core import load_checkpoint, save_checkpoint

    loaded = load_checkpoint(DEMO)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in loaded.model.named_parameters():
            if "class_embed" in name or "bbox_embed.layers.2" in name:
                p.add_(torch.randn(p.shape, generator=generator) * scale)
    save_checkpoint(path, loaded.model.float(), loaded.config, loaded.class_names, metadata=loaded.metadata)
    return path
