"""Benchmark (run by hand, not a test): where start-up goes, from a fresh interpreter to the
window on screen, the model loaded (on its worker, behind the window) and the first detection of
the bundled samples (issue 17, item 9).

    .venv/bin/python -m tests.benchmarks.bench_startup             # 3 fresh processes
    .venv/bin/python -m tests.benchmarks.bench_startup --repeat 5

The child does what `python main.py resources/samples` does (`app.main.run_gui`, the same
imports, the samples opened from their per-user copy); a timer on the GUI thread notes the first
event-loop turn with the window visible, when torch is imported (on the model's worker) and when
the model and the first detection are in, when pyqtgraph is in and the training plots are built,
and the longest gap between its 5 ms polls after the window showed (a GUI stall). Each repeat is a new process (imports are cold only for the first one, as after an install the
files are then in the page cache). Runs offscreen unless QT_QPA_PLATFORM says otherwise, with a
throw-away settings and data folder. Prints a table of seconds since the interpreter started.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
marks = {}
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
marks["import Qt"] = time.perf_counter() - t0
from app.main import run_gui  # what main.py (and `detr-workbench`) imports
marks["import app.main"] = time.perf_counter() - t0
marks["torch imported before the window"] = "torch" in sys.modules
app = QApplication([sys.argv[0]])


last = [None]  # the previous poll after the window showed


def poll():
    now = time.perf_counter() - t0
    windows = [w for w in app.topLevelWidgets() if w.isWindow() and hasattr(w, "state") and w.isVisible()]
    if windows and "window shown" not in marks:  # the first event-loop turn with the window on screen
        marks["window shown"] = now
        marks["torch imported at show"] = "torch" in sys.modules
        marks["pyqtgraph imported at show"] = "pyqtgraph" in sys.modules
        marks["longest GUI stall after show (ms)"] = 0.0
    if last[0] is not None:  # a gap between two polls (5 ms apart) is time the event loop was blocked
        stall = 1e3 * (now - last[0]) - 5
        if stall > marks["longest GUI stall after show (ms)"]:
            marks["longest GUI stall after show (ms)"], marks["  ... ending at"] = stall, now
    last[0] = now if windows else None
    if "pyqtgraph" in sys.modules and "pyqtgraph import begun" not in marks:
        marks["pyqtgraph import begun"] = now
    if windows and "plots built" not in marks and windows[0].training_ui.panel.plots.graphics is not None:
        marks["plots built"] = now
    if "torch" in sys.modules and "torch import begun (worker)" not in marks:
        marks["torch import begun (worker)"] = now
    if windows:
        model = windows[0].state.model
        if "model loaded" not in marks and model.info is not None and not model.loading:
            marks["model loaded"] = now
        if model.current_detections() is not None and "first detection" not in marks:
            marks["first detection"] = now
        if "first detection" in marks and "plots built" in marks:
            print(json.dumps(marks))
            windows[0].close()
            app.quit()
            return
    QTimer.singleShot(5, poll)


QTimer.singleShot(0, poll)
QTimer.singleShot(120_000, app.quit)
run_gui([sys.argv[1]])  # as `python main.py resources/samples`: shows the window, opens the samples
"""


def run_once(samples: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data:
        config = Path(data) / "config" / "DETR Workbench"  # the window's QSettings, thrown away
        config.mkdir(parents=True)
        (config / "DETR Workbench.conf").write_text("[model]\nthreads=1\n")
        env = dict(os.environ, DETR_WORKBENCH_DATA=data, PYTHONPATH=str(ROOT),
                   XDG_CONFIG_HOME=str(Path(data) / "config"))
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        out = subprocess.run([sys.executable, "-c", CHILD, str(samples)], env=env, capture_output=True,
                             text=True, timeout=180, cwd=str(ROOT))
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise SystemExit(f"start-up child failed: {out.stderr.strip().splitlines()[-1:]}")
        return json.loads(lines[-1])


def _cell(value) -> str:
    if isinstance(value, bool):
        return f"{'yes' if value else 'no':>9}"
    return f"{float('nan') if value is None else value:9.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    samples = ROOT / "resources" / "samples"
    runs = [run_once(samples) for _ in range(args.repeat)]
    print(f"{'seconds since the interpreter started':<40}" + "".join(f"{f'run {i + 1}':>9}" for i in range(len(runs))))
    for key in runs[0]:
        print(f"{key:<40}" + "".join(_cell(run.get(key)) for run in runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
