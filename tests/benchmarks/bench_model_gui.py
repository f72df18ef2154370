"""Benchmark (run by hand, not a test): the model in the window against the bare `detect` command.

    .venv/bin/python -m tests.benchmarks.bench_model_gui                      # demo model, 120 images
    .venv/bin/python -m tests.benchmarks.bench_model_gui -c detr-r50 --count 20 --size 800x600
    .venv/bin/python -m tests.benchmarks.bench_model_gui --threads 1          # leave a core free

Measures, on the same folder and checkpoint:
  1. the window (offscreen unless QT_QPA_PLATFORM says otherwise): flipping through images with
     the model on (image shown -> boxes drawn, against the model's own time per image);
  2. `detr-workbench detect` as a subprocess, over all images and over one image: its throughput
     is (N - 1) / (t_N - t_1), so start-up and model loading cancel out; then the window
     pre-annotating the same folder (images/s, wall clock from start to the finished signal);
     `--repeat` such pairs, alternating, as the load of a shared machine drifts;
  3. a 2 ms timer probe on the GUI thread while flipping and during one more pre-annotation job
     (not during the timed ones: its 500 wake-ups a second cost the model some speed): the
     longest and 99th-percentile gap beyond its interval is how long the event loop was blocked,
     and the GUI thread's own CPU time in each gap, how much of that was its own work.
With --explain it also lists the longest stalls with what the GUI thread did meanwhile: event
deliveries that took long (receiver, event type) and garbage collections.
Prints a markdown table and the machine load (others' training jobs skew every number).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
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
    from detr_core.model.config import preset
    from detr_core.model.detr import build

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
    t_one = statistics.median(run(one) for _ in range(3))  # start-up and loading: noisy, so 3 times
    t_all = run(folder)
    n = len(list(folder.iterdir()))
    return (n - 1) / (t_all - t_one), t_all


class Probe:
    """Gaps between 2 ms timer ticks on the GUI thread, beyond the interval: event-loop stalls;
    and the CPU time the GUI thread itself used in each gap (thread_time): on a core shared with
    the model's thread or other programs a gap is longer than the GUI's own work in it."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[float] = []
        self.cpu: list[float] = []  # ms of GUI-thread CPU per gap
        self.stalls: list[tuple[float, float]] = []  # (start, end) perf_counter of gaps > 20 ms
        self._last = None
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(PROBE_MS)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps, self.stalls, self._last = [], [], time.perf_counter()
        self.cpu, self._last_cpu = [], time.thread_time()
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.gaps

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.cpu.append((cpu - self._last_cpu) * 1e3)
        self._last_cpu = cpu
        self.gaps.append(max(0.0, (now - self._last) * 1e3 - PROBE_MS))
        if self.gaps[-1] > 20:
            self.stalls.append((self._last, now))
        self._last = now


class Explainer:
    """What the GUI thread spent long stretches on: event deliveries over 5 ms (via a
    QApplication.notify override) and cyclic garbage collections (gc callbacks)."""

    def __init__(self):
        import gc

        self.spans: list[tuple[float, float, str]] = []
        self._gc_start = 0.0
        self.origin = time.perf_counter()
        self.marks: list[tuple[float, str]] = []
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.spans.append((self._gc_start, time.perf_counter(),
                               f"gc gen {info['generation']} ({info['collected']} collected)"))

    def delivered(self, started: float, receiver, event) -> None:
        ended = time.perf_counter()
        if ended - started > 0.005 and threading.get_ident() == threading.main_thread().ident:
            chain, obj = [], receiver
            while obj is not None and len(chain) < 4:
                try:
                    chain.append(obj.objectName() or type(obj).__name__)
                    obj = obj.parent()
                except RuntimeError:  # deleted while its event was delivered (an animation ending)
                    chain.append("(deleted)")
                    break
            try:
                kind = event.type().name
            except RuntimeError:
                kind = "(deleted event)"
            self.spans.append((started, ended, f"{'<'.join(chain)} {kind}"))

    def mark(self, what: str) -> None:
        self.marks.append((time.perf_counter(), what))

    def report(self, stalls: list[tuple[float, float]], top: int = 8) -> None:
        print("\nPhases: " + ", ".join(f"{what} at {t - self.origin:.2f} s" for t, what in self.marks))
        print("\nLongest GUI stalls and what overlapped them on the GUI thread:")
        for start, end in sorted(stalls, key=lambda s: s[0] - s[1])[:top]:
            print(f"  {1e3 * (end - start):6.1f} ms stall at {start - self.origin:.2f} s")
            for s, e, what in self.spans:
                if s < end and e > start:
                    print(f"      {1e3 * (e - s):6.1f} ms  {what}")


def thread_cpu() -> dict[str, float]:
    """CPU seconds used so far by each thread of this process (Linux), by thread name and id."""
    ticks = os.sysconf("SC_CLK_TCK")
    usage = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        usage[f"{name}/{task.name}"] = (int(fields[11]) + int(fields[12])) / ticks
    return usage


def stall_text(gaps: list[float], cpu: list[float]) -> str:
    return (f"max {max(gaps):.1f} ms, p99 {np.percentile(gaps, 99):.1f} ms ({len(gaps)} ticks); "
            f"GUI thread's own CPU per gap: max {max(cpu):.1f} ms, p99 {np.percentile(cpu, 99):.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--checkpoint", help="default: the bundled demo model, else a random 'small' model")
    parser.add_argument("--dir", type=Path, help="an existing folder of images (default: make one)")
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--browse", type=int, default=8, help="images to flip through with the model on")
    parser.add_argument("--threads", type=int, default=0, help="model CPU threads (0: torch's default)")
    parser.add_argument("--repeat", type=int, default=3, help="bare / in-app pairs, alternating")
    parser.add_argument("--explain", action="store_true", help="list the longest stalls and their causes")
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

    explainer = Explainer() if args.explain else None

    class App(QApplication):
        def notify(self, receiver, event):  # noqa: N802 (Qt's name)
            started = time.perf_counter()
            try:
                return super().notify(receiver, event)
            finally:
                explainer.delivered(started, receiver, event)

    app = App([]) if explainer else QApplication([])
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
    window.state.model.model_changed.connect(collector.freeze_loaded)  # as run_gui
    state, model = window.state, window.state.model

    def spin(until, timeout=600.0, done_signal=None) -> bool:
        """Run the real event loop (sleeping when idle, as app.exec() does) until `until()`,
        checked every 10 ms, or when `done_signal` fires (then checked only every 500 ms: a
        polling timer's wake-ups would take turns on the cores from the model)."""
        deadline = time.perf_counter() + timeout
        loop = QEventLoop()
        check = QTimer()
        check.setInterval(10 if done_signal is None else 500)
        check.timeout.connect(lambda: (until() or time.perf_counter() > deadline) and loop.quit())
        check.start()
        if done_signal is not None:
            done_signal.connect(loop.quit)
        if not until():
            loop.exec()
        check.stop()
        if done_signal is not None:
            done_signal.disconnect(loop.quit)
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
    browse_gaps, browse_cpu = probe.stop(), list(probe.cpu)
    stalls = list(probe.stalls)
    shown_to_drawn = [max(0.0, marks[r]["drawn"] - marks[r]["shown"]) * 1e3 for r in range(1, browse + 1)]
    model_ms = [seconds[state.entry(r).path] * 1e3 for r in range(1, browse + 1)]

    # -- pre-annotating the folder, alternating with the bare command (the load of a shared
    # machine drifts; pairs taken close together compare fairly) --------------------------------------
    bare_rates, app_rates, batch_gaps, batch_cpu, in_model = [], [], [], [], []
    item_seconds: list[float] = []
    model.client.batch_progressed.connect(lambda item: item_seconds.append(item.seconds))

    def pre_annotate(probed: bool) -> float:
        """Forget the predictions (but the image on screen's), run the job over them; images/s."""
        for path in list(model.store.predictions):
            if path != state.current_entry().path:
                del model.store.predictions[path]
        todo = len(model.batch_runner.paths("all"))
        item_seconds.clear()
        if probed:
            probe.start()
        started = time.perf_counter()
        cpu_before = thread_cpu() if explainer else {}
        explainer and explainer.mark("batch start")
        assert model.batch_runner.start("all")
        assert spin(lambda: not model.batch_runner.running, done_signal=model.batch_finished)
        elapsed = time.perf_counter() - started
        if explainer:
            explainer.mark("batch end")
            used = {k: v - cpu_before.get(k, 0.0) for k, v in thread_cpu().items()}
            print(f"job: {elapsed:.2f} s, detect median {1e3 * statistics.median(item_seconds):.1f} ms; CPU by thread: "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(used.items(), key=lambda kv: -kv[1]) if v > 0.01))
        rate = todo / elapsed
        in_model.append(sum(item_seconds) * rate / todo)  # share of the wall time in detect()
        if probed:
            batch_gaps.extend(probe.stop())
            batch_cpu.extend(probe.cpu)
            stalls.extend(probe.stalls)
        return rate

    # Throughput without the probe (its 500 wake-ups a second take turns on the cores from the
    # model's threads: a cost of measuring, not of the app); then one job with it, for the stalls.
    for _ in range(args.repeat):
        bare_rates.append(bare_detect(checkpoint, folder, one, args.threads)[0])
        app_rates.append(pre_annotate(probed=False))
    probed_rate = pre_annotate(probed=True)
    todo = len(images) - 1
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
         f"{app_rate:.2f} images/s ({100 * (app_rate / bare_rate - 1):+.1f} % vs bare; pairs: {ratios}; "
         f"median pair {100 * statistics.median(a / b - 1 for a, b in zip(app_rates, bare_rates)):+.1f} %)"),
        ("share of the job's wall time inside Detector.detect (each job)",
         ", ".join(f"{100 * share:.0f} %" for share in in_model)),
        ("GUI stall while pre-annotating", f"{stall_text(batch_gaps, batch_cpu)} (this job: {probed_rate:.2f} images/s)"),
        (f"GUI stall while flipping {browse} images (model on)", stall_text(browse_gaps, browse_cpu)),
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
    if explainer:
        explainer.report(stalls)
    state.undo_stack.setClean()
    window.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
