"""`detr-workbench train`: fine-tune (or train from scratch) a DETR on COCO annotations.

Writes RUN_DIR/checkpoint.pth (resumable, every epoch), model.pth (final), best.pth (best
validation AP), metrics.jsonl (the event stream, see detr_core/train/events.py) and run.json (the
arguments, so `--resume` needs only --out). Under `torchrun --nproc_per_node N` it trains with
DistributedDataParallel; only rank 0 writes.

Exit codes: 0 completed; 3 stopped by SIGINT/SIGTERM after writing a resumable checkpoint (a second
signal aborts at once); 1 error (one line on stderr, an "error" event in the stream); 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

EXIT_STOPPED = 3

# Training options: command-line name -> TrainConfig field. None default = "not given".
_TRAIN_OPTIONS = {
    "epochs": int, "batch_size": int, "accumulate": int, "lr": float, "lr_backbone": float,
    "weight_decay": float, "clip_max_norm": float, "schedule": str, "lr_drop": int, "drop_fraction": float,
    "warmup_steps": int, "resolution": str, "workers": int, "seed": int, "eval_every": int,
    "groups": int, "ema_decay": float, "augment": str, "dropout": float,
}
_SAVED_ARGS = ("train_json", "train_images", "val_json", "val_images", "checkpoint", "config",
               "half_weights")
EXIT_PREFLIGHT = 4


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune or train a DETR on COCO annotations",
                       description="Train a DETR on a COCO instances file and its images, from a "
                                   "checkpoint (fine-tuning: the class head moves onto the data's "
                                   "classes by name) or from scratch (--config).",
                       epilog="Exit codes: 0 done, 3 stopped by SIGINT/SIGTERM (resumable), 1 error.")
    data = p.add_argument_group("data")
    data.add_argument("--train-json", type=Path, help="COCO instances file to train on")
    data.add_argument("--train-images", type=Path, help="its image folder (default: found next to it)")
    data.add_argument("--val-json", type=Path, help="COCO instances file to validate on after each epoch")
    data.add_argument("--val-images", type=Path)
    model = p.add_argument_group("model")
    model.add_argument("--checkpoint", help="starting weights: project/official .pth, Hugging Face folder, "
                                            "or detr-r50 | detr-r101 | detr-r50-dc5 | detr-r101-dc5")
    model.add_argument("--config", help="from scratch (no --checkpoint): tiny | small | demo | detr-r50 | "
                                        "... (default small)")
    run = p.add_argument_group("run")
    run.add_argument("--out", type=Path, required=True, help="run folder")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    mode.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    run.add_argument("--jsonl", action="store_true", help="also write the event stream on stdout")
    run.add_argument("--stop-after", type=int, metavar="STEPS",
                     help="stop once the run has done this many optimizer steps, as on SIGTERM "
                          "(resumable checkpoint, exit code 3)")
    run.add_argument("--half-weights", action="store_true",
                     help="store model.pth and best.pth in fp16 (half the size)")
    opt = p.add_argument_group("training (defaults: the reference fine-tuning recipe)")
    opt.add_argument("--epochs", type=int, help="default 50")
    opt.add_argument("--batch-size", type=int, help="images per process per forward pass (default 2)")
    opt.add_argument("--accumulate", type=int, help="forward passes per optimizer step (default 1)")
    opt.add_argument("--lr", type=float, help="default 1e-4")
    opt.add_argument("--lr-backbone", type=float, help="default 1e-5 (from scratch: --lr)")
    opt.add_argument("--weight-decay", type=float, help="default 1e-4")
    opt.add_argument("--clip-max-norm", type=float, help="gradient clipping, 0 = off (default 0.1)")
    opt.add_argument("--schedule", choices=("step", "cosine"), help="default step")
    opt.add_argument("--lr-drop", type=int,
                     help="step schedule: epochs before lr x0.1 (default: at --drop-fraction)")
    opt.add_argument("--drop-fraction", type=float,
                     help="step schedule without --lr-drop: lr x0.1 at this fraction of the run (default 2/3; "
                          "recipe 0.8 from scratch on a few images)")
    opt.add_argument("--warmup-steps", type=int, help="linear warm-up steps (default 0)")
    opt.add_argument("--resolution", help="reference (800) | 640 | 512 | 384 | 256 | auto (the model's)")
    opt.add_argument("--no-flip", dest="hflip", action="store_const", const=False,
                     help="no random horizontal flips (for left/right-sensitive classes)")
    opt.add_argument("--flip", dest="hflip", action="store_const", const=True,
                     help="random horizontal flips (on by default, except from scratch on a few images)")
    opt.add_argument("--augment", choices=("reference", "resize"),
                     help="reference (default): random scales and crops; resize: every image at the "
                          "evaluation size, flips only (recipe default from scratch on a few images)")
    opt.add_argument("--dropout", type=float, help="the transformer's dropout while training (default: the "
                                                   "model's own; recipe default 0 from scratch on a few images)")
    opt.add_argument("--freeze-backbone", action="store_true", help="train only the transformer and heads")
    opt.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    opt.add_argument("--workers", type=int, help="data-loader processes (default 2)")
    opt.add_argument("--seed", type=int, help="default 42")
    opt.add_argument("--eval-every", type=int, help="validate every N epochs (default 1)")
    opt.add_argument("--groups", type=int, help="Group DETR query groups while training (the saved model "
                                                "keeps one; recipe default 4 on small data)")
    opt.add_argument("--ema-decay", type=float, help="EMA of the weights, evaluated and saved; 0 = off "
                                                     "(default 0: no gain in the 4-minute fine-tune probes, README)")
    opt.add_argument("--time-budget", metavar="DURATION",
                     help="train for this long (10m, 90s, 1h30m): epochs, schedule and evaluations are "
                          "fitted after the first steps; ends on time with its best model")
    opt.add_argument("--recipe", choices=("auto", "reference"), default="auto",
                     help="auto (default): settings chosen from the data, printed at start; reference: "
                          "the reference fine-tuning recipe; options given always win")
    opt.add_argument("--preflight", action="store_true",
                     help="check the data and the model first (see `detr-workbench preflight`); errors "
                          f"stop the run (exit code {EXIT_PREFLIGHT}) unless --go-anyway")
    opt.add_argument("--go-anyway", action="store_true", help="train even when the preflight finds errors")
    p.set_defaults(func=run_command)


class _StopFlag:
    """SIGINT/SIGTERM (or reaching --stop-after steps) ask the run to stop after the current
    step; a second signal aborts."""

    def __init__(self, max_steps: int | None = None):
        self.requested = False
        self.previous = {}
        self.max_steps = max_steps
        self.step = 0

    def watch(self, event) -> None:
        """An event sink: counts the run's optimizer steps."""
        if event.TYPE in ("step", "start"):
            self.step = event.step if event.TYPE == "step" else event.start_step

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            self.uninstall()
            raise KeyboardInterrupt
        self.requested = True

    def uninstall(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}

    def __call__(self) -> bool:
        return self.requested or (self.max_steps is not None and self.step >= self.max_steps)


def _given(args, from_scratch: bool) -> dict:
    """The training options given on the command line (TrainConfig fields)."""
    from ..train.budget import parse_duration
    from ..train.config import TrainConfig

    given = {}
    for name in _TRAIN_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            given["num_workers" if name == "workers" else name] = value
    if args.hflip is not None:
        given["hflip"] = args.hflip
    if args.time_budget is not None:
        given["time_budget_s"] = parse_duration(args.time_budget)
    if from_scratch and (args.recipe == "reference" or "lr" in given):
        given.setdefault("lr_backbone", given.get("lr", TrainConfig.lr))
    return given


def _config(given: dict, from_scratch: bool, args):
    from ..train.config import TrainConfig

    fixed = dict(freeze_backbone=args.freeze_backbone, amp=not args.no_amp)
    if from_scratch:
        fixed.update(train_stem=True, batch_stats=True)
    try:
        return TrainConfig(**given, **fixed)
    except (ValueError, TypeError) as e:
        from ..errors import WorkbenchError

        raise WorkbenchError(str(e)) from None


def _train_config(args, saved: dict | None, from_scratch: bool):
    from ..train.config import TrainConfig

    if saved is not None:  # resuming: the run's own config, with a new length if asked for
        cfg = TrainConfig.from_dict(saved)
        return cfg.replace(epochs=args.epochs) if args.epochs is not None else cfg
    return _config(_given(args, from_scratch), from_scratch, args)


def _with_recipe(args, cfg, data, start, from_scratch: bool):
    """(config, lines): the automatic recipe over the given options (--recipe auto), or the given
    options over the reference recipe."""
    from ..train.recipe import DataFacts, choose

    given = _given(args, from_scratch)
    if args.recipe == "reference":
        return cfg, ["recipe: reference (" + (", ".join(f"{k}={v}" for k, v in sorted(given.items())) or
                                             "its defaults") + ")"]
    facts = DataFacts.of(data.train, new_classes=start.new_classes, from_scratch=from_scratch,
                         backbone=start.config.backbone)
    base = _config({}, from_scratch, args)
    try:
        recipe = choose(facts, given, base)
    except ValueError as e:
        from ..errors import WorkbenchError

        raise WorkbenchError(str(e)) from None
    return recipe.config, recipe.lines


def recipe_inputs(argv: list[str], from_scratch: bool) -> tuple[dict, object]:
    """(given, base TrainConfig) that --recipe auto hands to recipe.choose for these `train`
    arguments (without the leading "train"): the fine-tune dialog shows the recipe before it runs."""
    from .main import build_parser

    args = build_parser("train").parse_args(["train", *argv])
    return _given(args, from_scratch), _config({}, from_scratch, args)


def _fill_from_run(args) -> None:
    """--resume: arguments not given again come from the run's run.json."""
    path = args.out / "run.json"
    if not path.is_file():
        return
    saved = json.loads(path.read_text(encoding="utf-8"))
    for key in _SAVED_ARGS:
        if getattr(args, key) in (None, False) and saved.get(key) is not None:
            value = saved[key]
            setattr(args, key, Path(value) if key.endswith(("_json", "_images")) else value)


def run_command(args: argparse.Namespace) -> int:
    from ..train import distributed
    from ..devices import resolve_device
    from ..errors import WorkbenchError
    from ..train.events import run_failed
    from ..train.sinks import EventSinks, JsonLines, TerminalProgress

    device = resolve_device(args.device)
    info = distributed.init_from_env(device)
    device = distributed.process_device(device, info)
    sinks = EventSinks()
    stop = _StopFlag(args.stop_after)
    try:
        from ..train.setup import prepare_run_dir

        if args.resume:
            prepare_run_dir(args.out, resume=True, overwrite=False, main=info.is_main)
            _fill_from_run(args)
        if args.train_json is None:
            raise WorkbenchError("--train-json is required (except with --resume of a run that has run.json)")
        if args.checkpoint and args.config:
            raise WorkbenchError("--config is for training from scratch; --checkpoint brings its own model")
        if args.time_budget is not None:  # a bad budget is refused before anything is written
            from ..train.budget import parse_duration

            parse_duration(args.time_budget)
        if args.preflight and not args.resume:  # before the run folder is touched
            _preflight(args, info.is_main)
        if not args.resume:
            prepare_run_dir(args.out, resume=False, overwrite=args.overwrite, main=info.is_main)
        distributed.barrier()
        if info.is_main:
            sinks.sinks.append(JsonLines(args.out / "metrics.jsonl"))
            if args.jsonl:
                sinks.sinks.append(JsonLines(sys.stdout))
            sinks.sinks.append(TerminalProgress())
            sinks.sinks.append(stop.watch)
            _save_args(args)
        stop.install()
        return _train(args, device, sinks, stop)
    except Exception as error:
        if not getattr(error, "reported", False) and sinks.sinks:
            sinks(run_failed(error, 0, 0, None))
        raise
    finally:
        stop.uninstall()
        sinks.close()
        distributed.cleanup()


def _save_args(args) -> None:
    from ..atomic import atomic_write_json

    saved = {k: (str(getattr(args, k)) if isinstance(getattr(args, k), Path) else getattr(args, k))
             for k in _SAVED_ARGS}
    atomic_write_json(args.out / "run.json", saved, indent=2)


def _train(args, device, sinks, stop: _StopFlag) -> int:
    from ..train import distributed
    from ..train import setup as train_setup
    from ..model.config import ModelConfig, preset
    from ..train.engine import train
    from ..errors import WorkbenchError

    main = distributed.is_main()
    raw = loaded_base = None
    if args.resume:  # the run's own model and training config
        from ..checkpoints import read_checkpoint_state

        raw = read_checkpoint_state(args.out / "checkpoint.pth")
        cfg = _train_config(args, (raw.get("state") or {}).get("train_config") or {}, False)
        base_config = ModelConfig.from_dict(raw["model_config"])
    elif args.checkpoint:
        from ..checkpoints import load_checkpoint

        loaded_base = load_checkpoint(args.checkpoint)
        cfg = _train_config(args, None, False)
        base_config = loaded_base.config
    else:
        cfg = _train_config(args, None, True)
        try:
            base_config = preset(args.config or "small")
        except ValueError as e:
            raise WorkbenchError(f"--config: {e}") from None
    resolution = train_setup.pick_resolution(cfg.resolution, base_config)
    loaded = train_setup.load_data(args.train_json, args.train_images, args.val_json, args.val_images,
                                   resolution, hflip=cfg.hflip, seed=cfg.seed, augment=cfg.augment)
    data = loaded.data
    if raw is not None:
        start = train_setup.from_run(raw, args.out / "checkpoint.pth", data.class_map)
    elif loaded_base is not None:
        start = train_setup.from_checkpoint(loaded_base, data.class_map, resolution, cfg.seed)
    else:
        start = train_setup.from_scratch(args.config or "small", data.class_map, data, resolution, cfg.seed)
    recipe: list[str] = []
    if raw is None:
        cfg, recipe = _with_recipe(args, cfg, data, start, start.from_scratch)
        data.train.transform = train_setup.training_transform(resolution, hflip=cfg.hflip, augment=cfg.augment)
    if main:
        for line in recipe:
            print(f"detr-workbench train: {line}", file=sys.stderr)
        for title, summary in loaded.summaries:
            print("\n".join(summary.lines(title)), file=sys.stderr)
        print(f"detr-workbench train: model: {start.base}", file=sys.stderr)
        for note in ([] if start.from_scratch else start.notes):  # from scratch: a warning event
            print(f"detr-workbench train: {note}", file=sys.stderr)
    warnings = [f"{title}: {w}" for title, s in loaded.summaries for w in s.warning_messages()]
    metadata = {"train_json": str(args.train_json), "val_json": str(args.val_json) if args.val_json else None,
                "base_checkpoint": args.checkpoint, "resolution": resolution.name}
    result = train(cfg, start.model, data, sinks if main else None, stop, model_config=start.config,
                   run_dir=args.out, device=device, resume=raw["state"] if raw is not None else None,
                   metadata=metadata, base=start.base,
                   warnings=warnings + (start.notes if start.from_scratch else []),
                   half_weights=bool(args.half_weights), recipe=recipe)
    return 0 if result.status == "completed" else EXIT_STOPPED


def _preflight(args, main: bool) -> None:
    from .preflight import failed, run_preflight
    from ..errors import WorkbenchError

    findings = run_preflight(args.train_json, args.train_images, args.val_json, args.val_images,
                             args.checkpoint, args.config, args.resolution)
    if main:
        for f in findings:
            print(f"detr-workbench preflight: {f.line()}", file=sys.stderr)
    if failed(findings) and not args.go_anyway:
        error = WorkbenchError(f"preflight found {sum(f.severity == 'error' for f in findings)} errors "
                               "(above); fix them, or train anyway with --go-anyway")
        error.exit_code = EXIT_PREFLIGHT
        raise error
