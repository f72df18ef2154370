"""The COCO metrics of a run (the last evaluation): the twelve numbers and AP per class, x100 as
the train command prints them; "-" where COCO has nothing to score (e.g. no small objects)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from detr_core.coco.metrics import METRICS

from .runs import RunRecord

_MEANING = {"AP": "AP at IoU 0.50:0.95", "AP50": "AP at IoU 0.50", "AP75": "AP at IoU 0.75",
            "APs": "AP, small objects", "APm": "AP, medium objects", "APl": "AP, large objects",
            "AR1": "recall, 1 detection per image", "AR10": "recall, 10 detections",
            "AR100": "recall, 100 detections", "ARs": "recall, small", "ARm": "recall, medium",
            "ARl": "recall, large"}


def percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


class MetricsTableWidget(QWidget):
    def __init__(self, training, parent=None):
        super().__init__(parent)
        self.training = training
        self.title = QLabel("No finished run yet.")
        self.title.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Metric", "Value", ""])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        training.selected_changed.connect(self._on_training_selected_changed)

    def values(self) -> dict[str, str]:
        """What the table shows: {metric or "AP <class>": text}."""
        return {self.table.item(r, 0).text(): self.table.item(r, 1).text() for r in range(self.table.rowCount())}

    @Slot(object)
    def _on_training_selected_changed(self, record: RunRecord | None) -> None:
        self.show_run(record)

    def show_run(self, record: RunRecord | None) -> None:
        self.table.setRowCount(0)
        if record is None:
            self.title.setText("No finished run yet.")
            return
        metrics = record.metrics
        where = f"epoch {record.epoch}" + (f" of {record.epochs}" if record.epochs else "")
        self.title.setText(f"<b>{record.name}</b> — {record.status}, {where}"
                           + ("" if metrics else ": no evaluation (no validation set, or stopped before "
                                                 "the first one)."))
        if not metrics:
            return
        rows = [(name, percent(metrics.get(name)), _MEANING[name]) for name in METRICS]
        rows += [(f"AP {name}", percent(ap), "per class, IoU 0.50:0.95")
                 for name, ap in (metrics.get("per_class") or {}).items()]
        self.table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
