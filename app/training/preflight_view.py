"""PreflightView: the fine-tune dialog's preflight lines: "Checking the data…" with a Cancel while
the check runs, then one line per finding with its severity, coloured like the dialog's own problem
lines. The list scrolls (a fixed height): a long report never grows the dialog past the screen."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from .preflight_check import PreflightResult

ERROR, WARNING, OK = "#b00020", "#8a6d00", "#1b6e20"  # the dialog's problem / warning colours, and ok
_MARKS = {"error": ("✖", ERROR), "warning": ("⚠", WARNING), "ok": ("✔", OK)}
LIST_HEIGHT = 92  # px: about four lines, then it scrolls


def summary(result: PreflightResult) -> str:
    if result.status == "cancelled":
        return "Preflight cancelled: Start checks again."
    if result.status == "failed":
        return "The preflight could not run; you can still start anyway."
    warnings = sum(f.severity == "warning" for f in result.findings)
    counts = f"{result.errors} error{'s' if result.errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"
    if result.status == "errors":
        return f"Preflight: {counts}. Fix them, or press Start anyway."
    return f"Preflight passed ({counts})."


class PreflightView(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the check (it writes nothing)")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.findings = QListWidget()
        self.findings.setFixedHeight(LIST_HEIGHT)
        self.findings.setWordWrap(True)
        self.shown: PreflightResult | None = None  # the result on show (None: running, stale or none)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.status, 1)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.findings)
        self.clear()

    def clear(self) -> None:
        self.shown = None
        self.status.setText("")
        self.findings.clear()
        self.cancel_button.hide()
        self.findings.hide()
        self.hide()

    def show_running(self) -> None:
        self.clear()
        self.status.setText("Checking the data… (the preflight: data health, then a one-batch overfit)")
        self.cancel_button.show()
        self.show()

    def show_result(self, result: PreflightResult) -> None:
        self.clear()
        self.status.setText(summary(result))
        rows = [(f.severity, f.message) for f in result.findings]
        if result.status == "failed":
            rows.insert(0, ("error", result.message))
        order = {"error": 0, "warning": 1, "ok": 2}
        for severity, message in sorted(rows, key=lambda r: order.get(r[0], 3)):
            mark, colour = _MARKS.get(severity, ("•", WARNING))
            item = QListWidgetItem(f"{mark} {severity}: {message}")
            item.setForeground(QColor(colour))
            item.setToolTip(message)
            self.findings.addItem(item)
        self.findings.setVisible(bool(rows))
        self.shown = result
        self.show()

    def show_stale(self) -> None:
        self.clear()
        self.status.setText("The data or the model changed since the preflight: Start checks again.")
        self.show()

    def lines(self) -> list[str]:
        """The findings as shown, one line each (with their severity)."""
        return [self.findings.item(i).text() for i in range(self.findings.count())]
