"""`run_gui(argv)`: the workbench window, for `python main.py [PATH]` and `detr-workbench [PATH]`.

PATH may be an image, a folder of images or a COCO JSON file (`--image-root` says where the
JSON's images are when they are not next to it). Without PATH, work autosaved by a session
that crashed is offered first.
"""
from __future__ import annotations

import argparse
import logging
import sys

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication

from .gui_gc import GuiThreadCollector
from .icons import icon
from .main_window import APP_NAME, MainWindow
from .resources import missing as missing_resources
from .user_data import user_path

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="detr-workbench", description=f"{APP_NAME}: open the window.")
    parser.add_argument("path", nargs="?", help="an image, a folder of images or a COCO .json file")
    parser.add_argument("--image-root", help="folder the COCO file's image file names are relative to")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    return parser


def _reporter(window: MainWindow):
    """Last line of defence for a bug in a slot: log the traceback, say it in one line, go on
    (the document and its undo stack are untouched, so nothing is lost)."""

    def report(kind, error, trace):
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        log.error("unexpected error", exc_info=(kind, error, trace))
        window.state.message.emit(f"Unexpected error: {kind.__name__}: {error} (details in the log; "
                                  "your work is still open — save it)")

    return report


def _opened_path(window: MainWindow, path: str) -> str:
    """The bundled samples open from their per-user copy: saving never writes into the checkout."""
    try:
        return str(user_path(path))
    except OSError as e:
        window.state.message.emit(f"{e}; opening the bundled samples themselves")
        return path


def run_gui(argv: list[str] | None = None) -> int:
    """Open the window (and PATH, if given); returns the exit code when it closes."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    QCoreApplication.setOrganizationName(APP_NAME)
    QCoreApplication.setApplicationName(APP_NAME)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setWindowIcon(icon("app"))
    collector = GuiThreadCollector(parent=app)  # Qt objects are never collected on a worker thread
    window = MainWindow()
    for problem in missing_resources():  # a broken install says so, on stderr and in the window
        log.warning(problem)
        window.state.message.emit(problem)
    collector.freeze_startup()  # start-up objects are not scanned by every later full collection
    window.state.model.model_changed.connect(collector.freeze_loaded)  # nor torch's, imported by the load
    previous_hook, sys.excepthook = sys.excepthook, _reporter(window)
    window.show()
    if args.path:
        path = _opened_path(window, args.path)
        QTimer.singleShot(0, lambda: window.session.open(path, args.image_root))
    else:
        QTimer.singleShot(0, window.flows.offer_startup_recovery)
    try:
        return int(app.exec())
    finally:
        sys.excepthook = previous_hook
        collector.stop()
