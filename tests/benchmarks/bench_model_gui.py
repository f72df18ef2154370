"""Benchmark (run by hand, not a test): the model in the window against the bare `detect` command.

    .venv/bin/python -m tests.benchmarks.bench_model_gui                      # demo model, 60 images
    .venv/bin/python -m tests.benchmarks.bench_model_gui -c detr-r50 --count 20 --size 800x600
    .venv/bin/python -m tests.benchmarks.bench_model_gui --threads 1          # leave a core free

Measures, on the same folder and checkpoint:
  1. the window (offscreen unless QT_QPA_PLATFORM says otherwise): flipping through images with
     the model on (image shown -> boxes drawn, against the model's own time per image);
  2. `detr-workbench detect` as a subprocess, over all images and over one image: its throughput
     is (N - 1) / (t_N - t_1), so start-up and model loading cancel out; then the window
     pre-annotating the same folder (images/s, wall clock from start to the finished signal);
     `--repeat` such pairs, alternating, as the load of a shared machine drifts;
  3. all the while, a 2 ms timer probe on the GUI thread: the longest and 99th-percentile gap
     beyond its interval is how long the event loop was blocked.
Prints a markdown table and the machine load (others' training jobs skew every number).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
DEMO = ROOT / "resources" / "models" / "demo.pth"
PROBE_MS = 2


def make_folder(folder: Path, count: int, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(20, 120, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(3):
            x, y = rng.integers(0, size[0] - 80), rng.integers(0, size[1] - 80)
            s = int(rng.integers(30, 80))
            color = tuple(int(v) for v in rng.integers(120, 255, 3))
            [draw.ellipse, draw.rectangle][int(rng.integers(0, 2))]((x, y, x + s, y + s), fill=color)
        image.save(folder / f"img{i:04d}.jpg", quality=90)


def tiny_checkpoint(path: Path) -> Path:
    import torch

    from detr_core.checkpoints import save_checkpoint
    from detr_core.config import preset
    from detr_core.detr import build

    config = preset("small", num_classes=3)
    torch.manual_seed(0)
    save_checkpoint(path, build(config), config, ["circle", "square", "triangle"])
    return path


def bare_detect(checkpoint: str, folder: Path, one: Path, threads: int) -> tuple[float, float]:
    """(images/s of the detect command's loop, seconds for the whole run)."""
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))

    def run(target: Path) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "detr_core", "detect", str(target), "-c", checkpoint,
                        "--device", "cpu", "-o", str(folder.parent / "bare.json")],
                       check=True, env=env, stderr=subprocess.DEVNULL, cwd=ROOT)
        return time.perf_counter() - started

    run(one)  # warm the file cache
    t_one, t_all = run(one), run(folder)
    n = len(list(folder.iterdir()))
    return (n - 1) / (t_all - t_one), t_all


class Probe:
    """Gaps between 2 ms timer ticks on the GUI thread, beyond the interval: event-loop stalls."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[float] = []
        self._last = None
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(PROBE_MS)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps, self._last = [], time.perf_counter()
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.gaps

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(max(0.0, (now - self._last) * 1e3 - PROBE_MS))
        self._last = now


def stall_text(gaps: list[float]) -> str:
    return f"max {max(gaps):.1f} ms, p99 {np.percentile(gaps, 99):.1f} ms ({len(gaps)} ticks)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--checkpoint", help="default: the bundled demo model, else a random 'small' model")
    parser.add_argument("--dir", type=Path, help="an existing folder of images (default: make one)")
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--browse", type=int, default=8, help="images to flip through with the model on")
    parser.add_argument("--threads", type=int, default=0, help="model CPU threads (0: torch's default)")
    parser.add_argument("--repeat", type=int, default=3, help="bare / in-app pairs, alternating")
    args = parser.parse_args()
    load_before = os.getloadavg()
    tmp = tempfile.TemporaryDirectory(prefix="bench-model-")
    work = Path(tmp.name)
    checkpoint = args.checkpoint or (str(DEMO) if DEMO.is_file() else str(tiny_checkpoint(work / "small.pth")))
    folder = args.dir
    if folder is None:
        folder = work / "images"
        make_folder(folder, args.count, tuple(int(v) for v in args.size.lower().split("x")))
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    one = work / "one"
    one.mkdir()
    (one / images[0].name).write_bytes(images[0].read_bytes())

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from app.gui_gc import GuiThreadCollector
    from app.main_window import MainWindow

    collector = GuiThreadCollector(parent=app)  # as run_gui: cyclic GC on the GUI thread only

    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("model/checkpoint", checkpoint)
    settings.setValue("model/device", "cpu")
    settings.setValue("model/threads", args.threads)
    window = MainWindow(settings=settings, autosave_seconds=3600)
    window.session.fallback_dir = work / "autosave"
    window.resize(1400, 900)
    window.show()
    collector.freeze_startup()
    state, model = window.state, window.state.model

    def spin(until, timeout=600.0) -> bool:
        """Run the real event loop (sleeping when idle, as app.exec() does) until `until()`."""
        deadline = time.perf_counter() + timeout
        loop = QEventLoop()
        check = QTimer()
        check.setInterval(10)
        check.timeout.connect(lambda: (until() or time.perf_counter() > deadline) and loop.quit())
        check.start()
        if not until():
            loop.exec()
        check.stop()
        return until()

    assert spin(lambda: model.info is not None and not model.loading), model.error
    window.session.open(str(folder))
    assert spin(lambda: model.current_detections() is not None and not model.running)

    # -- the image on screen: shown -> boxes drawn, with the model's own time ----------------------
    marks: dict[int, dict[str, float]] = {}
    state.image_loaded.connect(lambda row, _p: marks.setdefault(row, {}).setdefault("shown", time.perf_counter()))
    window.model_ui.predictions.drawn.connect(
        lambda row, _n: row >= 0 and model.store.get(state.entry(row).path) is not None
        and marks.setdefault(row, {}).setdefault("drawn", time.perf_counter()))
    seconds: dict[str, float] = {}
    model.client.detected.connect(lambda r: seconds.__setitem__(r.request.path, r.seconds))
    probe = Probe()
    probe.start()
    browse = min(args.browse, len(images) - 1)
    for row in range(1, browse + 1):
        state.go_to(row)
        assert spin(lambda: "drawn" in marks.get(row, {}) and "shown" in marks[row] and not model.running)
        pause = time.perf_counter() + 0.2
        spin(lambda: time.perf_counter() > pause)  # the user looks at it for a moment
    browse_gaps = probe.stop()
    shown_to_drawn = [max(0.0, marks[r]["drawn"] - marks[r]["shown"]) * 1e3 for r in range(1, browse + 1)]
    model_ms = [seconds[state.entry(r).path] * 1e3 for r in range(1, browse + 1)]

    # -- pre-annotating the folder, alternating with the bare command (the load of a shared
    # machine drifts; pairs taken close together compare fairly) --------------------------------------
    bare_rates, app_rates, batch_gaps = [], [], []
    for _ in range(args.repeat):
        bare_rates.append(bare_detect(checkpoint, folder, one, args.threads)[0])
        for path in list(model.store.predictions):  # forget: the job runs over every image again
            if path != state.current_entry().path:
                del model.store.predictions[path]
        todo = len(model.batch_paths("all"))
        probe.start()
        started = time.perf_counter()
        assert model.start_batch("all")
        assert spin(lambda: not model.batch_running)
        app_rates.append(todo / (time.perf_counter() - started))
        batch_gaps += probe.stop()
    bare_rate, app_rate = statistics.median(bare_rates), statistics.median(app_rates)
    ratios = ", ".join(f"{100 * (a / b - 1):+.0f} %" for a, b in zip(app_rates, bare_rates))
    load_after = os.getloadavg()

    info = model.info
    print(f"\nModel: {info.description} on {info.device}, {info.threads} thread(s); "
          f"{len(images)} images {args.size if not args.dir else ''}")
    print(f"Machine: {os.cpu_count()} cores, load average before {load_before[0]:.2f}, "
          f"after {load_after[0]:.2f} (1 min)\n")
    rows = [
        (f"bare `detr-workbench detect` loop (median of {args.repeat})", f"{bare_rate:.2f} images/s"),
        (f"in-app pre-annotation, {todo} images (median of {args.repeat})",
         f"{app_rate:.2f} images/s ({100 * (app_rate / bare_rate - 1):+.1f} % vs bare; pairs: {ratios})"),
        ("GUI stall while pre-annotating", stall_text(batch_gaps)),
        (f"GUI stall while flipping {browse} images (model on)", stall_text(browse_gaps)),
        ("image shown -> boxes drawn (median / max)",
         f"{statistics.median(shown_to_drawn):.0f} / {max(shown_to_drawn):.0f} ms"),
        ("model time per image in the worker (median / max)",
         f"{statistics.median(model_ms):.0f} / {max(model_ms):.0f} ms"),
        ("shown -> drawn minus model time (max)",
         f"{max(s - m for s, m in zip(shown_to_drawn, model_ms)):.0f} ms"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | result |")
    print(f"|{'-' * (width + 2)}|--------|")
    for label, value in rows:
        print(f"| {label.ljust(width)} | {value} |")
    state.undo_stack.setClean()
    window.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
