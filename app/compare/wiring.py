"""Puts Compare mode into the window through its seams: the Compare dock (bottom, beside Training)
and Train ▸ Compare Models… (Ctrl+Shift+C), which fills in the model before and after the last run,
and Train ▸ Use, Pre-label && Compare (Ctrl+Shift+L), the loop in one click (loop.py).
MainWindow calls `install_compare_ui` once and `shutdown()` when it closes."""
from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from .dock import CompareDockWidget
from .loop import OneClickLoop
from .worker import CompareController


class CompareUi(NamedTuple):
    panel: CompareDockWidget
    dock: QDockWidget
    controller: CompareController
    loop: OneClickLoop

    def open(self) -> None:
        """Show the dock with the default pair filled in where a field is empty."""
        if not self.panel.fields["a"].text() or not self.panel.fields["b"].text():
            self.panel.use_defaults()
        self.dock.show()
        self.dock.raise_()

    def shutdown(self) -> None:
        self.controller.shutdown()


def install_compare_ui(window) -> CompareUi:
    controller = CompareController()
    panel = CompareDockWidget(window.state, controller)
    dock = window.add_dock(panel, "Compare", Qt.DockWidgetArea.BottomDockWidgetArea, "compare")
    training_dock = getattr(getattr(window, "training_ui", None), "dock", None)
    if training_dock is not None:
        window.tabifyDockWidget(training_dock, dock)
        training_dock.raise_()
    dock.hide()
    ui = CompareUi(panel, dock, controller, None)
    ui = ui._replace(loop=OneClickLoop(window, ui))
    window.actions["compare_models"].triggered.connect(ui.open)
    window.actions["run_loop"].triggered.connect(ui.loop.run)
    window.menu("&Train").addActions([window.actions["compare_models"], window.actions["run_loop"]])
    return ui
