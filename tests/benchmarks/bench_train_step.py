"""Training-step benchmark: our DETR-R50 against Hugging Face transformers' DetrForObjectDetection
holding the same weights, in the same process, on this machine.

    .venv/bin/python -m tests.benchmarks.bench_train_step [--runs 5] [--size 512] [--threads N]

One step = forward, loss (Hungarian matching, auxiliary losses), backward, gradient clipping at
0.1 and AdamW (lr 1e-4, backbone 1e-5), on a batch of 2 images with shortest side --size. Both
models run with dropout 0 so their work is the same and their step-0 losses must agree (< 1e-4).
Ours runs as the engine runs it (frozen batch norm folded into the convolutions at forward time);
variants without folding and with channels-last are timed too. Steps alternate between the
models so a busy machine slows both alike. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
import warnings

import torch

from detr_core.model.criterion import SetCriterion
from detr_core.train.optim import build_optimizer
from detr_core.train.config import TrainConfig
from detr_core.train.fold import folded_for_training

CFG = TrainConfig()  # lr 1e-4, backbone 1e-5, weight decay 1e-4, clip 0.1


def _hf_model():
    from transformers import DetrConfig, DetrForObjectDetection

    config = DetrConfig(use_timm_backbone=True, backbone="resnet50", use_pretrained_backbone=False,
                        num_labels=91, auxiliary_loss=True, dropout=0.0, attention_dropout=0.0,
                        activation_dropout=0.0)
    torch.manual_seed(0)
    model = DetrForObjectDetection(config)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, buf in model.named_buffers():  # realistic frozen batch-norm statistics
            if name.endswith("running_var"):
                buf.copy_(torch.rand(buf.shape, generator=gen) * 1.5 + 0.5)
            elif name.endswith("running_mean"):
                buf.copy_(torch.randn(buf.shape, generator=gen) * 0.1)
    return model.train()


def _ours_from(hf):
    """Our model holding the same weights, through the project's own Hugging Face loader."""
    from detr_core.checkpoints import load_checkpoint
    from detr_core.model.detr import build

    with tempfile.TemporaryDirectory() as folder:
        hf.save_pretrained(folder)
        loaded = load_checkpoint(folder)
    model = build(loaded.config.replace(dropout=0.0))
    model.load_state_dict(loaded.model.state_dict())
    return model.train(), loaded.config


def _batch(size: int):
    g = torch.Generator().manual_seed(2)
    width = round(size * 4 / 3)
    images = torch.randn(2, 3, size, width, generator=g)
    mask = torch.zeros(2, size, width, dtype=torch.bool)
    targets = []
    for n in (3, 5):
        centres = torch.rand(n, 2, generator=g) * 0.6 + 0.2
        sizes = torch.rand(n, 2, generator=g) * 0.3 + 0.05
        targets.append({"labels": torch.randint(1, 91, (n,), generator=g), "boxes": torch.cat([centres, sizes], 1)})
    return images, mask, targets


class _Ours:
    def __init__(self, model, fold: bool, channels_last: bool):
        self.model = model
        self.fold = fold
        self.channels_last = channels_last
        self.criterion = SetCriterion(91, CFG.criterion)
        self.optimizer = build_optimizer(model, CFG)

    def step(self, images, mask, targets) -> float:
        ctx = folded_for_training(self.model, channels_last=self.channels_last) if self.fold else contextlib.nullcontext()
        with ctx:
            x = images.contiguous(memory_format=torch.channels_last) if self.channels_last else images
            loss = self.criterion(self.model(x, mask), targets)["loss"]
            _backward_and_update(loss, self.optimizer)
        return loss.item()


def _backward_and_update(loss, optimizer) -> None:
    """The part of a step both models share: backward, clipping, AdamW."""
    loss.backward()
    params = [p for g in optimizer.param_groups for p in g["params"]]
    torch.nn.utils.clip_grad_norm_(params, CFG.clip_max_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


class _Theirs:
    def __init__(self, model):
        self.model = model
        main = [p for n, p in model.named_parameters() if "backbone" not in n and p.requires_grad]
        backbone = [p for n, p in model.named_parameters() if "backbone" in n and p.requires_grad]
        self.optimizer = torch.optim.AdamW([{"params": main, "lr": CFG.lr},
                                            {"params": backbone, "lr": CFG.lr_backbone}],
                                           lr=CFG.lr, weight_decay=CFG.weight_decay)

    def step(self, images, mask, targets) -> float:
        labels = [{"class_labels": t["labels"], "boxes": t["boxes"]} for t in targets]
        loss = self.model(pixel_values=images, pixel_mask=(~mask).long(), labels=labels).loss
        _backward_and_update(loss, self.optimizer)
        return loss.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    images, mask, targets = _batch(args.size)

    hf = _hf_model()
    ours_model, config = _ours_from(hf)
    assert config.backbone == "resnet50" and config.num_classes == 91
    runners = {"transformers DetrForObjectDetection": _Theirs(hf),
               "ours (engine: folded frozen BN)": _Ours(ours_model, fold=True, channels_last=False)}
    first = {name: r.step(images, mask, targets) for name, r in runners.items()}  # step 0: same weights
    (theirs_name, loss_theirs), (_, loss_ours) = first.items()
    # Variants of ours, each on its own copy of the weights after step 0 (timing only).
    import copy

    runners["ours, unfolded"] = _Ours(copy.deepcopy(ours_model), fold=False, channels_last=False)
    runners["ours, folded + channels-last"] = _Ours(copy.deepcopy(ours_model), fold=True, channels_last=True)
    times = {name: [] for name in runners}
    for name, r in runners.items():  # warm-up
        r.step(images, mask, targets)
    for _ in range(args.runs):
        for name, r in runners.items():
            start = time.perf_counter()
            r.step(images, mask, targets)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times[theirs_name])
    print(f"Training step, DETR-R50, batch 2 at {args.size}x{round(args.size * 4 / 3)}, "
          f"{torch.get_num_threads()} threads, median of {args.runs} (torch {torch.__version__})\n")
    print("| model | step time (s) | images/s | time vs transformers |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"| {name} | {t:.2f} | {2 / t:.2f} | {t / base:.2f}x |")
    diff = abs(loss_ours - loss_theirs)
    print(f"\nStep-0 loss: ours {loss_ours:.6f}, transformers {loss_theirs:.6f}, |difference| {diff:.2e} "
          f"({'OK' if diff < 1e-4 else 'MISMATCH'}: limit 1e-4)")


if __name__ == "__main__":
    main()
