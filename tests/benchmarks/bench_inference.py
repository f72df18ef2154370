"""Inference benchmark: our Detector against Hugging Face transformers' DetrForObjectDetection
holding the same DETR-R50 weights, in the same process, on this machine.

    .venv/bin/python -m tests.benchmarks.bench_inference [--runs 7] [--threads N]

Prints a markdown table: median latency at 800x1066 (batch 1), ratios to the peer (of the medians
of sequential blocks of runs, and the median over back-to-back pairs of runs), the largest
output difference, and whether reduced precision keeps the demo model's detections on the
bundled samples. Run it on a quiet machine; nothing else should be using the CPU.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT.parent / "shared" / "data" / "images" / "coco_val2017_000000039769.png"  # 640x480
DEMO = ROOT / "resources" / "models" / "demo.pth"
SAMPLES = ROOT / "resources" / "samples"


def _peer_model(attn: str):
    from transformers import DetrConfig, DetrForObjectDetection

    config = DetrConfig(use_timm_backbone=True, backbone="resnet50", use_pretrained_backbone=False,
                        num_labels=91, attn_implementation=attn)
    torch.manual_seed(0)
    model = DetrForObjectDetection(config).eval()
    gen = torch.Generator().manual_seed(1)
    for name, buf in model.named_buffers():  # realistic frozen batch-norm statistics
        if name.endswith("running_var"):
            buf.copy_(torch.rand(buf.shape, generator=gen) * 1.5 + 0.5)
        elif name.endswith("running_mean"):
            buf.copy_(torch.randn(buf.shape, generator=gen) * 0.1)
        elif name.endswith("weight"):  # timm zero-initialises each block's last scale: the residual
            buf.copy_(torch.rand(buf.shape, generator=gen) * 0.5 + 0.25)  # branches would add nothing
    return model


def _median(fn, runs: int) -> float:
    fn()  # warm-up
    return statistics.median(_time(fn) for _ in range(runs))


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median_pair_ratio(ours, peer, runs: int) -> float:
    """Median over `runs` back-to-back pairs of ours' time / the peer's (which goes first alternates):
    less sensitive than a ratio of medians to this VM's speed drifting over seconds."""
    ratios = []
    for i in range(runs):
        if i % 2:
            mine, theirs = _time(ours), _time(peer)
        else:
            theirs, mine = _time(peer), _time(ours)
        ratios.append(mine / theirs)
    return statistics.median(ratios)


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def reduced_precision_agreement(threshold: float = 0.5) -> str:
    """Demo model on the bundled samples: fp32 vs reduced precision, detection by detection."""
    from detr_core.infer.detector import Detector
    from detr_core.images import list_images

    if not DEMO.exists():
        return "demo model not found: skipped"
    fp32 = Detector.from_checkpoint(DEMO, device="cpu")
    low = Detector.from_checkpoint(DEMO, device="cpu", precision="reduced")
    total = matched = 0
    worst_score = 0.0
    worst_iou = 1.0
    for path in list_images(SAMPLES):
        a, b = fp32(path), low(path)
        for d in a.filter(threshold):
            total += 1
            box_b = b.boxes_xyxy[d.query]
            iou = _iou(d.box_xyxy, box_b)
            dscore = abs(d.score - float(b.scores[d.query]))
            worst_iou, worst_score = min(worst_iou, iou), max(worst_score, dscore)
            matched += iou >= 0.9 and dscore <= 0.02 and int(b.labels[d.query]) == d.label
    return (f"{matched}/{total} detections (score >= {threshold}) kept: IoU >= 0.9 and score within "
            f"0.02 (worst IoU {worst_iou:.3f}, worst score change {worst_score:.4f})")


def _onnx_runner(checkpoint: str):
    """The checkpoint exported to ONNX (no self-check: the benchmark compares outputs itself) and
    opened with the torch-free runner; None without the `export` extra."""
    import importlib.util

    if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        return None
    from detr_core.export import ExportConfig, export_onnx
    from detr_core.infer.onnx_runner import OnnxDetector

    out = Path(checkpoint) / "model.onnx"
    export_onnx(checkpoint, out, ExportConfig(check=False))
    return OnnxDetector.from_file(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)

    from detr_core.checkpoints import load_checkpoint
    from detr_core.infer.detector import Detector
    from detr_core.infer.preprocess import preprocess

    peer = _peer_model("sdpa")
    peer_eager = _peer_model("eager")
    peer_eager.load_state_dict(peer.state_dict())
    with tempfile.TemporaryDirectory() as tmp:
        peer.save_pretrained(tmp)
        loaded = load_checkpoint(tmp)
        onnx_runner = _onnx_runner(tmp)
    ours = Detector(loaded.model, loaded.config, loaded.class_names, device="cpu")
    ours_bf16 = Detector(loaded.model, loaded.config, loaded.class_names, device="cpu", precision="reduced")

    image = Image.open(IMAGE).convert("RGB")
    pixels = preprocess(image)[None]  # [1, 3, 800, 1066]
    pixel_mask = torch.ones(1, *pixels.shape[-2:], dtype=torch.long)
    with torch.inference_mode():
        theirs = peer(pixel_values=pixels, pixel_mask=pixel_mask)
        theirs_att = peer_eager(pixel_values=pixels, pixel_mask=pixel_mask, output_attentions=True)
    mine = ours(image, attention=True)
    logit_diff = float(np.abs(mine.logits - theirs.logits[0].numpy()).max())
    box_diff = float(np.abs(mine.boxes_cxcywh - theirs.pred_boxes[0].numpy()).max())
    # Their last decoder layer's cross-attention, averaged over heads, against our map.
    their_map = theirs_att.cross_attentions[-1][0].mean(0).reshape(mine.attention.decoder.shape).numpy()
    attn_diff = float(np.abs(mine.attention.decoder - their_map).max())

    def peer_plain():
        with torch.inference_mode():
            peer(pixel_values=pixels, pixel_mask=pixel_mask)

    def peer_attention():
        with torch.inference_mode():
            peer_eager(pixel_values=pixels, pixel_mask=pixel_mask, output_attentions=True)

    rows = [
        ("transformers DetrForObjectDetection (sdpa), model only", _median(peer_plain, args.runs)),
        ("transformers, output_attentions=True (eager), model only", _median(peer_attention, args.runs)),
        ("ours: Detector.detect(PIL image), plain", _median(lambda: ours(image), args.runs)),
        ("ours: Detector.detect(PIL image), attention=True", _median(lambda: ours(image, attention=True), args.runs)),
        ("ours: Detector.detect(PIL image), plain, bf16 autocast", _median(lambda: ours_bf16(image), args.runs)),
    ]
    if onnx_runner is not None:
        onnx_out = onnx_runner(image)
        onnx_diff = float(np.abs(onnx_out.logits - mine.logits).max())
        rows.append(("ours: OnnxDetector.detect(PIL image), onnxruntime CPU fp32", _median(lambda: onnx_runner(image), args.runs)))
        # onnxruntime #13808: torch after an onnxruntime run in the same process (spinning is off)
        rows.append(("ours: Detector.detect(PIL image), plain, after onnxruntime ran", _median(lambda: ours(image), args.runs)))
    pairs = {2: _median_pair_ratio(lambda: ours(image), peer_plain, args.runs),
             3: _median_pair_ratio(lambda: ours(image, attention=True), peer_attention, args.runs)}
    peer_plain_s, peer_att_s = rows[0][1], rows[1][1]
    print(f"\nDETR-R50, 800x1066, batch 1, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"{args.runs} runs (median)\n")
    print("| path | median latency | ratio to peer | median pair ratio |")
    print("|---|---:|---:|---:|")
    for i, (name, seconds) in enumerate(rows):
        peer_s = peer_att_s if "attention" in name else peer_plain_s
        ratio = "1.00 (peer)" if i < 2 else f"{seconds / peer_s:.2f}"
        pair = f"{pairs[i]:.2f}" if i in pairs else ""
        print(f"| {name} | {seconds:.3f} s | {ratio} | {pair} |")
    print(f"\nlargest difference to the peer (fp32): logits {logit_diff:.2e}, boxes {box_diff:.2e}, "
          f"last-layer cross-attention map {attn_diff:.2e}")
    print(f"reduced precision on the bundled samples (demo model): {reduced_precision_agreement()}")
    if onnx_runner is not None:
        print(f"onnxruntime against our Detector (fp32): logits differ by at most {onnx_diff:.2e}")


if __name__ == "__main__":
    main()
