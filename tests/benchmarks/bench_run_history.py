"""Benchmark (run by hand, not a test): reading a long run's metrics.jsonl for the run history.

The history list reads every run folder with `read_run(steps=False)`: each line is parsed and
dispatched on its type, and "step" events are dropped before they are built. This compares it
with a full read (every event built, what the curves need) and with the byte-prefix filter it
replaced (lines starting with b'{"type": "step"' dropped unparsed: fast, but it trusted the
writer's exact formatting instead of the contract).

    .venv/bin/python -m tests.benchmarks.bench_run_history            # 20,000 steps, 20 epochs
    .venv/bin/python -m tests.benchmarks.bench_run_history --steps 100000

Prints a table of wall and CPU milliseconds (best of --repeat).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.training.jsonl import JsonLinesParser  # noqa: E402
from app.training.runs import apply_event, read_run, RunRecord  # noqa: E402
from detr_core.train.events import EpochDone, RunEnded, RunStarted, StepDone  # noqa: E402


def write_run(folder: Path, steps: int, epochs: int) -> Path:
    """A metrics.jsonl as the train command writes it: start, steps, an epoch line per epoch, end."""
    per_epoch = steps // epochs
    losses = {f"{k}{s}": 0.5 for k in ("loss_ce", "loss_bbox", "loss_giou") for s in ("", "_0", "_1")}
    lines = [RunStarted(str(folder), False, epochs, per_epoch, steps, 1, 0, 4, 1, "cpu", 3000, 200,
                        ["a", "b"], {}, {}, "scratch").to_json()]
    for step in range(1, steps + 1):
        epoch = (step - 1) // per_epoch + 1
        lines.append(StepDone(epoch, (step - 1) % per_epoch + 1, per_epoch, step, steps, 0.7, losses, 1e-4,
                              1e-5, 3.2, 12.5, step * 0.3, (steps - step) * 0.3).to_json())
        if step % per_epoch == 0:
            lines.append(EpochDone(epoch, epochs, step, steps, 0.7, losses, 60.0, 12.0, 100.0, None).to_json())
    lines.append(RunEnded("completed", epochs, steps, steps, 999.0, None, None, None).to_json())
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def read_with_byte_prefix(folder: Path) -> RunRecord:
    """The replaced fast path, kept here only to measure it."""
    record = RunRecord(folder, complete=False)
    raw = (folder / "metrics.jsonl").read_bytes()
    raw = b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b'{"type": "step"'))
    parser = JsonLinesParser()
    for item in parser.feed(raw) + parser.finish():
        if not isinstance(item, str):
            apply_event(record, item)
    return record


def best_ms(fn, repeat: int) -> tuple[float, float]:
    """(wall, CPU) milliseconds, best of `repeat`: on a shared machine the CPU time is the steadier."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1000 * min(wall), 1000 * min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_run(Path(tmp), args.steps, args.epochs)
        size_mb = (folder / "metrics.jsonl").stat().st_size / 1e6
        listed = read_run(folder, steps=False)
        assert listed.status == "completed" and listed.step == args.steps and not listed.complete
        rows = [("read_run(steps=True): every event built", best_ms(lambda: read_run(folder), args.repeat)),
                ("read_run(steps=False): parsed, steps dropped by type",
                 best_ms(lambda: read_run(folder, steps=False), args.repeat)),
                ("old byte-prefix filter (replaced)", best_ms(lambda: read_with_byte_prefix(folder), args.repeat))]
    print(f"metrics.jsonl: {args.steps} steps, {args.epochs} epochs, {size_mb:.1f} MB; best of {args.repeat}")
    print(f"{'how':<56}{'wall ms':>10}{'CPU ms':>10}")
    for name, (wall, cpu) in rows:
        print(f"{name:<56}{wall:>10.1f}{cpu:>10.1f}")


if __name__ == "__main__":
    main()
