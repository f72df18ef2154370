"""GPU check: every CUDA path of the project, run by hand on a CUDA machine; prints one table.

    .venv/bin/python -m tests.benchmarks.gpu_check              # a CUDA machine, under 5 minutes
    .venv/bin/python -m tests.benchmarks.gpu_check --cpu-dry-run  # the same steps, small, on the CPU

Checks, each with its time and peak GPU memory:
  detect     the demo model in fp32, fp16 and bf16 on the GPU against CPU fp32 on the bundled
             samples (every detection with score >= 0.5: IoU, score change, class), and a DETR-R50
             (seeded random weights) at 800 px, GPU fp32 against CPU fp32 (raw output differences)
  train      training steps with autocast: fp32, fp16 with the GradScaler, bf16 (step-0 loss
             against fp32, losses finite, the scaler's scale)
  nccl       a one-process NCCL process group: an all-reduce, then the project's `train` command
             in it (its per-step all-reduces go through NCCL)
  throughput images/s of Detector.detect and of pre-labelling (decode, detect, write the shard
             file, as `detect --out-dir`) at batch 1, 4, 8
Needs nothing but the project's own set-up; without CUDA it says so and exits with status 0.
Exit status 1 when a check failed.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "models" / "demo.pth"
SAMPLES = ROOT / "resources" / "samples" / "images"


@dataclass(frozen=True)
class Plan:
    """How big each check is: the CUDA plan, or a small one for a dry run on the CPU."""

    big_config: str = "detr-r50"  # the model of the raw-difference and throughput checks
    big_size: int = 800
    samples: int = 8  # bundled samples for the precision comparison
    train_steps: int = 5
    train_images: int = 16  # synthetic images for the `train` run
    batches: tuple[int, ...] = (1, 4, 8)
    timed_images: int = 32  # per throughput row
    precisions: tuple[str, ...] = ("fp32", "fp16", "bf16")


DRY_RUN = Plan(big_config="tiny", big_size=256, samples=2, train_steps=2, train_images=4, batches=(1, 4),
               timed_images=4, precisions=("fp32", "bf16"))


@dataclass
class Row:
    section: str
    check: str
    result: str
    seconds: float
    peak_mb: float | None
    ok: bool | None  # None: a measurement, nothing to pass


class Checker:
    def __init__(self, device: torch.device, plan: Plan, work: Path):
        self.device, self.plan, self.work = device, plan, work
        self.rows: list[Row] = []

    @contextlib.contextmanager
    def measure(self, section: str, check: str):
        """Times the block and its peak GPU memory; the block sets `box["result"]` and `box["ok"]`.
        An exception becomes a failed row and the next check runs."""
        box: dict = {"result": "", "ok": None}
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        try:
            yield box
        except Exception as e:  # a broken path is a result here, not the end of the check
            box["result"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:160]
            box["ok"] = False
            traceback.print_exc(file=sys.stderr)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20 if self.device.type == "cuda" else None
        self.rows.append(Row(section, check, box["result"], time.perf_counter() - start, peak, box["ok"]))

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    # -- detect -----------------------------------------------------------------------------------
    def detect_precisions(self) -> None:
        from detr_core.errors import DeviceError
        from detr_core.images import list_images, load_image
        from detr_core.infer.detector import Detector

        images = [load_image(p) for p in list_images(SAMPLES)[: self.plan.samples]]
        reference = Detector.from_checkpoint(DEMO, device="cpu").detect(images)
        for precision in self.plan.precisions:
            with self.measure("detect", f"demo model, {precision} vs CPU fp32, {len(images)} samples") as box:
                try:
                    detector = Detector.from_checkpoint(DEMO, device=self.device, precision=precision)
                except DeviceError as e:
                    box["result"], box["ok"] = f"skipped: {e}", None
                    continue
                got = detector.detect(images)
                self.sync()
                box["result"], box["ok"] = _agreement(reference, got, strict=precision == "fp32")

    def detect_raw_difference(self) -> None:
        from detr_core.infer.preprocess import batch_images, preprocess

        with self.measure("detect", f"{self.plan.big_config} (random weights) at {self.plan.big_size} px, "
                                    "GPU fp32 vs CPU fp32, batch of 2 padded") as box:
            model = _big_model(self.plan.big_config)
            images = _sample_images(2)
            x, mask = batch_images([preprocess(images[0], self.plan.big_size, self.plan.big_size * 5 // 3),
                                    preprocess(images[1], self.plan.big_size * 3 // 4, self.plan.big_size * 5 // 4)])
            with torch.inference_mode():
                cpu = model(x, mask, aux=False)
                gpu = copy.deepcopy(model).to(self.device)(x.to(self.device), mask.to(self.device), aux=False)
            d_logits = float((gpu["pred_logits"].cpu() - cpu["pred_logits"]).abs().max())
            d_boxes = float((gpu["pred_boxes"].cpu() - cpu["pred_boxes"]).abs().max())
            tf32 = torch.backends.cudnn.allow_tf32 if self.device.type == "cuda" else False
            box["result"] = (f"largest Δ logits {d_logits:.2e}, boxes {d_boxes:.2e} "
                             f"(cuDNN TF32 {'on' if tf32 else 'off'})")
            box["ok"] = d_boxes < 1e-2  # TF32 convolutions: ~1e-3 is expected

    # -- train ------------------------------------------------------------------------------------
    def train_steps(self) -> None:
        from detr_core.checkpoints import load_checkpoint
        from detr_core.model.criterion import SetCriterion
        from detr_core.train.config import TrainConfig
        from detr_core.train.optim import build_optimizer

        loaded = load_checkpoint(DEMO)
        cfg = TrainConfig()
        x, mask, targets = _train_batch(4)
        x, mask = x.to(self.device), mask.to(self.device)
        targets = [{k: v.to(self.device) for k, v in t.items()} for t in targets]
        first: dict[str, float] = {}
        modes = [("fp32", None), ("fp16 + GradScaler", torch.float16), ("bf16", torch.bfloat16)]
        if self.device.type == "cpu":
            modes = [m for m in modes if m[1] != torch.float16]
        for name, dtype in modes:
            with self.measure("train", f"demo model, {self.plan.train_steps} steps of batch 4, {name}") as box:
                if dtype is torch.bfloat16 and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
                    box["result"] = "skipped: no bf16 on this GPU"
                    continue
                model = copy.deepcopy(loaded.model).to(self.device).train()
                criterion = SetCriterion(loaded.config.num_classes, cfg.criterion).to(self.device)
                optimizer = build_optimizer(model, cfg)
                scaler = torch.amp.GradScaler("cuda") if dtype is torch.float16 else None
                losses = []
                for _ in range(self.plan.train_steps):
                    ctx = torch.autocast(self.device.type, dtype=dtype) if dtype else contextlib.nullcontext()
                    with ctx:
                        loss = criterion(model(x, mask), targets)["loss"]
                    (scaler.scale(loss) if scaler else loss).backward()
                    if scaler:
                        scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]],
                                                   cfg.clip_max_norm)
                    if scaler:
                        scaler.step(optimizer)
                        scaler.update()
                    else:
                        optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    losses.append(float(loss.detach()))
                self.sync()
                first[name] = losses[0]
                delta = abs(losses[0] - first["fp32"]) if "fp32" in first else float("nan")
                finite = all(np.isfinite(losses))
                box["result"] = (f"loss {losses[0]:.4f} -> {losses[-1]:.4f}, step-0 Δ to fp32 {delta:.2e}"
                                 + (f", scale {scaler.get_scale():.0f}" if scaler else ""))
                box["ok"] = finite and (name == "fp32" or delta < 0.05 * max(1.0, first["fp32"]))

    def nccl_train(self) -> None:
        import torch.distributed as dist

        from detr_core.cli.main import main as cli
        from detr_core.data.synthetic import write_dataset

        backend = "nccl" if self.device.type == "cuda" else "gloo"
        with self.measure("nccl", f"one-process {backend} group: all-reduce, then `train` (1 epoch)") as box:
            train_json = write_dataset(self.work / "train", self.plan.train_images, seed=1, name="train")
            val_json = write_dataset(self.work / "val", max(2, self.plan.train_images // 4), seed=2, name="val")
            os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
            os.environ.setdefault("MASTER_PORT", str(_free_port()))
            dist.init_process_group(backend, rank=0, world_size=1)
            try:
                t = torch.full((4,), 2.0, device=self.device)
                dist.all_reduce(t)
                reduced = bool((t == 2.0).all())
                run = self.work / "run"
                code = cli(["train", "--train-json", str(train_json), "--val-json", str(val_json),
                            "--checkpoint", str(DEMO), "--epochs", "1", "--batch-size", "4", "--workers", "0",
                            "--device", str(self.device), "--resolution", "auto", "--out", str(run)])
            finally:
                if dist.is_initialized():
                    dist.destroy_process_group()
            events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
            kinds = [e.get("type", "") for e in events]
            box["result"] = (f"all-reduce {'ok' if reduced else 'WRONG'}; train exit {code}, "
                             f"{len(events)} events, last {kinds[-1] if kinds else 'none'}, "
                             f"model.pth {'written' if (run / 'model.pth').is_file() else 'missing'}")
            box["ok"] = reduced and code == 0 and (run / "model.pth").is_file()

    # -- throughput -------------------------------------------------------------------------------
    def throughput(self) -> None:
        from detr_core.infer.detector import Detector
        from detr_core.infer.prelabel import PrelabelConfig, prelabel
        from detr_core.infer.shards import Shard, ShardWriter
        from detr_core.model.config import preset

        checkpoint = self.work / "big.pth"
        torch.save({"model": _big_model(self.plan.big_config).state_dict()}, checkpoint)
        cfg = preset(self.plan.big_config)
        size = (self.plan.big_size, self.plan.big_size * 5 // 3)
        detector = Detector.from_checkpoint(checkpoint, device=self.device, min_size=size[0], max_size=size[1])
        images = _sample_images(self.plan.timed_images)
        folder = self.work / "prelabel"
        folder.mkdir()
        for i, image in enumerate(images):
            image.save(folder / f"{i:04d}.jpg", quality=92)
        for b in self.plan.batches:
            with self.measure("throughput", f"Detector.detect, {self.plan.big_config} at {size[0]} px, batch {b}") as box:
                detector.detect(images[:b])  # warm-up (cuDNN picks its algorithms)
                self.sync()
                start = time.perf_counter()
                for i in range(0, len(images), b):
                    detector.detect(images[i:i + b])
                self.sync()
                box["result"] = f"{len(images) / (time.perf_counter() - start):.1f} images/s"
        items = [(i, p, p.name) for i, p in enumerate(sorted(folder.glob("*.jpg")))]
        for b in self.plan.batches:
            with self.measure("throughput", f"pre-labelling (decode, detect, shard file), batch {b}") as box:
                config = PrelabelConfig(batch_size=b, threshold=0.0)  # every query kept
                with ShardWriter.open(self.work / f"shards-{b}", Shard(0, 1), "gpu-check", {"batch": b}) as writer:
                    start = time.perf_counter()
                    counts = prelabel(detector, items, writer, config)
                    self.sync()
                    seconds = time.perf_counter() - start
                box["result"] = f"{counts.done / seconds:.1f} images/s ({cfg.num_queries} queries per image kept)"
                box["ok"] = counts.done == len(items) and counts.failed == 0

    def table(self) -> str:
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "CPU (dry run)"
        lines = [f"GPU check on {name}, torch {torch.__version__}, CUDA {torch.version.cuda}\n",
                 "| section | check | result | time | peak GPU memory | ok |", "|---|---|---|---:|---:|---|"]
        for r in self.rows:
            peak = f"{r.peak_mb:.0f} MiB" if r.peak_mb is not None else ""
            ok = "" if r.ok is None else ("yes" if r.ok else "**NO**")
            lines.append(f"| {r.section} | {r.check} | {r.result} | {r.seconds:.1f} s | {peak} | {ok} |")
        return "\n".join(lines)


def _agreement(reference, got, strict: bool) -> tuple[str, bool]:
    """Detections (score >= 0.5 on the CPU) kept by `got`: IoU, score change and class."""
    min_iou, max_ds = (0.99, 1e-3) if strict else (0.9, 0.02)
    total = kept = 0
    worst_iou, worst_ds = 1.0, 0.0
    for ref, out in zip(reference, got):
        for d in ref.filter(0.5):
            total += 1
            iou = _iou(np.asarray(d.box_xyxy), out.boxes_xyxy[d.query])
            ds = abs(d.score - float(out.scores[d.query]))
            worst_iou, worst_ds = min(worst_iou, iou), max(worst_ds, ds)
            kept += iou >= min_iou and ds <= max_ds and int(out.labels[d.query]) == d.label
    return (f"{kept}/{total} detections kept (IoU >= {min_iou}, score within {max_ds}); worst IoU "
            f"{worst_iou:.4f}, worst score Δ {worst_ds:.2e}", kept == total)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return float(ix * iy / union) if union > 0 else 0.0


def _big_model(name: str) -> torch.nn.Module:
    from detr_core.model.config import preset
    from detr_core.model.detr import build

    torch.manual_seed(0)
    return build(preset(name)).eval()


def _sample_images(count: int):
    """`count` RGB images: the bundled samples, repeated as needed."""
    from detr_core.images import list_images, load_image

    paths = list_images(SAMPLES)
    return [load_image(paths[i % len(paths)]) for i in range(count)]


def _train_batch(n: int):
    """n synthetic images with their boxes: images [n, 3, H, W], mask [n, H, W], targets."""
    from detr_core.data.synthetic import make_image
    from detr_core.infer.preprocess import batch_images, preprocess

    tensors, targets = [], []
    for i in range(n):
        image, objects = make_image(seed=7, index=i)
        W, H = image.size
        tensors.append(preprocess(image, 192, 320))
        boxes = [[(x + w / 2) / W, (y + h / 2) / H, w / W, h / H] for _, (x, y, w, h) in objects]
        targets.append({"labels": torch.tensor([label for label, _ in objects], dtype=torch.int64),
                        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)})
    x, mask = batch_images(tensors)
    return x, mask, targets


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-dry-run", action="store_true",
                        help="run the same steps, small, on the CPU (to try this script without a GPU)")
    args = parser.parse_args(argv)
    if not args.cpu_dry_run and not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device here (torch {torch.__version__}, built for CUDA "
              f"{torch.version.cuda or 'none'}): nothing to check. Run it on a machine with an NVIDIA GPU.")
        return 0
    warnings.filterwarnings("ignore")
    device = torch.device("cpu") if args.cpu_dry_run else torch.device("cuda", 0)
    plan = DRY_RUN if args.cpu_dry_run else Plan()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="gpu_check-"))
    checker = Checker(device, plan, work)
    try:
        for step in (checker.detect_precisions, checker.detect_raw_difference, checker.train_steps,
                     checker.nccl_train, checker.throughput):
            step()
            print(f"gpu_check: {step.__name__} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(checker.table())
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 1 if any(r.ok is False for r in checker.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
