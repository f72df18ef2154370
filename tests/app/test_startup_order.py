"""Start-up order (issue 17, item 9): a fresh interpreter that imports what `main.py` imports,
builds the window and shows it has not imported torch or pyqtgraph yet (seconds of imports that
would keep the window off the screen); the Model panel says the model is loading; the window can
be browsed while it loads; and then, behind the window, torch is imported and the model loads,
and pyqtgraph is imported on a thread of its own (issue 17) before the Curves tab's plots are built.

A behaviour test in a child process (a test session has torch imported long before), not a timing.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from app.resources import demo_model

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"

CHILD = r"""
import json, sys, threading
import app.main  # what main.py imports (app.cli defers to it)
from PySide6.QtCore import QSettings, QTimer, qInstallMessageHandler
from PySide6.QtWidgets import QApplication
from app.main_window import MainWindow

report = {"qt warnings": []}


class ImportSpy:  # notes which thread imports pyqtgraph; finds nothing itself
    def find_spec(self, name, path=None, target=None):
        if name == "pyqtgraph":
            report["pyqtgraph imported on"] = threading.current_thread().name
        return None


sys.meta_path.insert(0, ImportSpy())
qInstallMessageHandler(lambda mode, context, text: "propagateSizeHints" in text or report["qt warnings"].append(text))
qt = QApplication([])
settings = QSettings(sys.argv[1], QSettings.Format.IniFormat)
settings.setValue("model/threads", 1)
window = MainWindow(settings=settings)
window.resize(1366, 728)
window.show()
report.update({"torch at show": "torch" in sys.modules, "pyqtgraph at show": "pyqtgraph" in sys.modules,
               "panel at show": window.model_ui.panel.status.text(), "loading at show": window.state.model.loading})
model, state = window.state.model, window.state


def on_opened(*_args):
    report["loading when browsed"] = model.loading
    before = state.current_row
    window.actions["next_image"].trigger()
    report["rows browsed"] = [before, state.current_row]


def poll():
    plots = window.training_ui.panel.plots
    if model.info is not None and not model.loading and plots.graphics is not None:
        report["plots"] = sorted(plots.plots)
        report["torch after load"] = "torch" in sys.modules
        report["model"] = model.info.source
        report["panel after load"] = window.model_ui.panel.status.text()
        print(json.dumps(report))
        window.close()
        qt.quit()
        return
    QTimer.singleShot(20, poll)


window.session.opened.connect(on_opened)
window.session.open(sys.argv[2], None)
QTimer.singleShot(0, poll)
QTimer.singleShot(120_000, qt.quit)
qt.exec()
"""


def test_the_window_shows_before_torch_and_the_model_loads_behind_it(tmp_path):
    samples = tmp_path / "samples"
    shutil.copytree(SAMPLES, samples)
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen",
               DETR_WORKBENCH_DATA=str(tmp_path / "data"), OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "settings.ini"), str(samples)],
                            capture_output=True, text=True, timeout=300, cwd=str(ROOT), env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the child reported nothing (rc {result.returncode}): {result.stderr[-2000:]}"
    report = json.loads(lines[-1])
    assert report["torch at show"] is False, "torch was imported before the window was shown"
    assert report["pyqtgraph at show"] is False, "pyqtgraph was imported before the window was shown"
    assert report["loading at show"] is True and report["panel at show"] == "Loading the model…"
    assert report["loading when browsed"] is True and report["rows browsed"] == [0, 1]
    assert report["torch after load"] is True and report["model"] == str(demo_model())
    assert "Loading" not in report["panel after load"] and " — on cpu" in report["panel after load"]
    # pyqtgraph (a second of imports) came in on a thread of its own, after the window showed, and
    # the Curves tab's plots were then built (on the GUI thread), with no warning from Qt.
    assert report["pyqtgraph imported on"] == "import pyqtgraph"
    assert report["plots"] == ["epoch", "loss", "lr", "map", "terms"] and report["qt warnings"] == []
