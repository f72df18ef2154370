"""Benchmark (run by hand, not a test): where start-up goes, from a fresh interpreter to the
window on screen, the model loaded (on its worker, behind the window) and the first detection of
the bundled samples (issue 17, item 9).

    .venv/bin/python -m tests.benchmarks.bench_startup             # 3 fresh processes
    .venv/bin/python -m tests.benchmarks.bench_startup --repeat 5

Each repeat is a new process (imports are cold only for the first one, as after an install the
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
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QSettings, QTimer
marks["import Qt"] = time.perf_counter() - t0
import torch  # noqa: F401
marks["import torch"] = time.perf_counter() - t0
from app.main_window import MainWindow
marks["import app"] = time.perf_counter() - t0
app = QApplication([])
settings = QSettings(os.path.join(os.environ["DETR_WORKBENCH_DATA"], "s.ini"), QSettings.Format.IniFormat)
settings.setValue("model/threads", 1)
window = MainWindow(settings=settings)
window.show()
app.processEvents()
marks["window shown"] = time.perf_counter() - t0
model = window.state.model
window.session.open(sys.argv[1], None)

def poll():
    if "model loaded" not in marks and model.info is not None and not model.loading:
        marks["model loaded"] = time.perf_counter() - t0
    if model.current_detections() is not None:
        marks["first detection"] = time.perf_counter() - t0
        print(json.dumps(marks))
        window.close()
        app.quit()
        return
    QTimer.singleShot(5, poll)

QTimer.singleShot(0, poll)
QTimer.singleShot(120_000, app.quit)
app.exec()
"""


def run_once(samples: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, DETR_WORKBENCH_DATA=data, PYTHONPATH=str(ROOT))
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        out = subprocess.run([sys.executable, "-c", CHILD, str(samples)], env=env, capture_output=True,
                             text=True, timeout=180, cwd=str(ROOT))
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise SystemExit(f"start-up child failed: {out.stderr.strip().splitlines()[-1:]}")
        return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    samples = ROOT / "resources" / "samples"
    runs = [run_once(samples) for _ in range(args.repeat)]
    print(f"{'seconds since the interpreter started':<40}" + "".join(f"{f'run {i + 1}':>9}" for i in range(len(runs))))
    for key in runs[0]:
        print(f"{key:<40}" + "".join(f"{run.get(key, float('nan')):9.2f}" for run in runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
