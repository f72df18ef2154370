"""The Compare dock: pick model A and model B (by default the model before and after the last run),
compare them on the open labels in the background, read the summary (ΔAP with its interval and
verdict, object outcomes, error types), walk the images with regressions first, and see both
models' boxes coloured by outcome, A | B, with their cross-attention for a selected object."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QToolButton,
                               QVBoxLayout, QWidget)

from detr_core.compare import Comparison, format_summary

from .panes import ComparePanesWidget
from .worker import CompareController, CompareRequest, ViewRequest, existing

ALL, VALIDATION = "All labelled images", "The last run's validation images"


def default_pair(state) -> tuple[str | None, str | None]:
    """(A, B): the last run's base model and its trained model; else the model in use as A."""
    training = getattr(state, "training", None)
    record = (training.record or (training.runs[0] if training.runs else None)) if training else None
    current = state.model.info.source if getattr(state, "model", None) and state.model.info else None
    if record is not None and record.model_path is not None:
        return existing(record.base) or existing(current), str(record.model_path)
    return existing(current), None


def _number(value: int) -> QTableWidgetItem:
    item = QTableWidgetItem()
    item.setData(Qt.ItemDataRole.DisplayRole, value)  # sorts as a number
    return item


class CompareDockWidget(QWidget):
    def __init__(self, state, controller: CompareController | None = None, parent=None):
        super().__init__(parent)
        self.state = state
        self.controller = controller or CompareController(self)
        self.comparison: Comparison | None = None
        self._records_by_image: dict[int, list[dict]] = {}
        self._paths: dict[int, str] = {}
        self.fields = {side: QLineEdit() for side in ("a", "b")}
        top = QHBoxLayout()
        for side, field in self.fields.items():
            field.setPlaceholderText(f"model {side.upper()}: a checkpoint (.pth)")
            browse = QToolButton()
            browse.setText("Browse…")
            browse.clicked.connect(lambda _=False, s=side: self._browse(s))
            top.addWidget(QLabel(side.upper()))
            top.addWidget(field, 1)
            top.addWidget(browse)
        self.images = QComboBox()
        self.images.addItems([ALL, VALIDATION])
        self.run_button = QPushButton("Compare")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.cancel_button.setEnabled(False)
        row = QHBoxLayout()
        for widget in (self.images, self.run_button, self.cancel_button):
            row.addWidget(widget)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        row.addWidget(self.progress, 1)
        self.summary = QLabel("Choose two models and press Compare: every object of the open labels is "
                              "matched against both models' boxes.")
        self.summary.setWordWrap(True)
        self.summary.setFont(QFont("monospace", 8))
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.image_table = self._table(["Image", "Broke", "Fixed", "New FP"])
        self.image_table.itemSelectionChanged.connect(self._on_image_selected)
        self.object_table = self._table(["Outcome", "Class A → B", "IoU change"])
        self.object_table.itemSelectionChanged.connect(self._on_object_selected)
        self.panes = ComparePanesWidget()
        left = QSplitter(Qt.Orientation.Vertical)  # the numbers and the lists beside the panes
        left.addWidget(self.summary)
        left.addWidget(self.image_table)
        left.addWidget(self.object_table)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(left)
        body.addWidget(self.panes)
        body.setStretchFactor(0, 2)
        body.setStretchFactor(1, 3)
        self.panes.setMinimumHeight(160)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(top)
        layout.addLayout(row)
        layout.addWidget(body, 1)
        self.toggle_key = QShortcut(QKeySequence("T"), self, self.panes.toggle,
                                    context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.controller.progressed.connect(self._on_controller_progressed)
        self.controller.finished.connect(self._on_controller_finished)
        self.controller.failed.connect(self._on_controller_failed)
        self.controller.view_ready.connect(self._on_controller_view_ready)

    @staticmethod
    def _table(headers: list[str]) -> QTableWidget:
        table = QTableWidget(0, len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.horizontalHeader().setStretchLastSection(True)
        return table

    # -- what the user does ---------------------------------------------------------------------
    def set_models(self, a: str | None, b: str | None) -> None:
        for side, path in (("a", a), ("b", b)):
            if path:
                self.fields[side].setText(str(path))

    def use_defaults(self) -> None:
        self.set_models(*default_pair(self.state))

    def _browse(self, side: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Model {side.upper()}", self.fields[side].text(),
                                              "Checkpoints (*.pth *.pt *.safetensors);;All files (*)")
        if path:
            self.fields[side].setText(path)

    def _validation_ids(self) -> set[int] | None:
        record = getattr(getattr(self.state, "training", None), "record", None)
        val = record.run_dir / "data" / "val.json" if record is not None else None
        if val is None or not val.is_file():
            return None
        return {im["id"] for im in json.loads(val.read_text(encoding="utf-8"))["images"]}

    def start(self) -> bool:
        doc = self.state.document
        a, b = (self.fields[s].text().strip() for s in ("a", "b"))
        if doc is None or not a or not b:
            self.summary.setText("Open annotations and choose both models first.")
            return False
        gt = doc.to_json()
        labelled = {ann["image_id"] for ann in gt["annotations"]}
        ids = labelled
        if self.images.currentText() == VALIDATION:
            val = self._validation_ids()
            if val is None:
                self.summary.setText("The last run has no validation images: comparing on all labelled images.")
            else:
                ids = labelled & val
        self._paths = {i: str(doc.image_path(i)) for i in ids}
        if not self.controller.start(CompareRequest(a, b, gt, dict(self._paths))):
            return False
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, max(len(ids), 1))
        self.progress.setValue(0)
        self.summary.setText(f"Comparing on {len(ids)} labelled images…")
        return True

    def counts(self) -> dict:
        return dict(self.comparison.counts) if self.comparison else {}

    def image_rows(self) -> list[tuple[int, int]]:
        """(image id, broke) in the order the table shows them."""
        return [(int(self.image_table.item(r, 0).data(Qt.ItemDataRole.UserRole)),
                 int(self.image_table.item(r, 1).data(Qt.ItemDataRole.DisplayRole)))
                for r in range(self.image_table.rowCount())]

    # -- slots ------------------------------------------------------------------------------------
    @Slot(int, int)
    def _on_controller_progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    @Slot(object)
    def _on_controller_finished(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.summary.setText(format_summary(comparison).replace("\n", "<br>").replace("  ", "&nbsp;&nbsp;"))
        self._records_by_image = {}
        for r in comparison.records:
            self._records_by_image.setdefault(r["image_id"], []).append(r)
        table = self.image_table
        table.setSortingEnabled(False)
        table.setRowCount(0)
        for image_id in sorted(self._paths):
            if image_id not in comparison.broke_per_image:
                continue  # could not be read
            recs = self._records_by_image.get(image_id, [])
            row = table.rowCount()
            table.insertRow(row)
            name = QTableWidgetItem(Path(self._paths[image_id]).name)
            name.setData(Qt.ItemDataRole.UserRole, image_id)
            table.setItem(row, 0, name)
            for col, kind in ((1, "broke"), (2, "fixed"), (3, "new_fp")):
                table.setItem(row, col, _number(sum(1 for r in recs if r["outcome"] == kind)))
        table.setSortingEnabled(True)
        table.sortItems(1, Qt.SortOrder.DescendingOrder)  # regressions first
        if table.rowCount():
            table.selectRow(0)

    @Slot(str)
    def _on_controller_failed(self, message: str) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.summary.setText(message)

    def _current_image(self) -> int | None:
        rows = self.image_table.selectionModel().selectedRows()
        return int(self.image_table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)) if rows else None

    def _on_image_selected(self) -> None:
        image_id = self._current_image()
        if image_id is None:
            return
        self.object_table.setRowCount(0)
        names = {c["id"]: c["name"] for c in self.state.document.categories} if self.state.document else {}
        for r in self._records_by_image.get(image_id, []):
            row = self.object_table.rowCount()
            self.object_table.insertRow(row)
            outcome = QTableWidgetItem(r["outcome"] + (" (moved)" if r.get("moved") else ""))
            outcome.setData(Qt.ItemDataRole.UserRole, r)
            classes = " → ".join(names.get(r[s]["class"], "?") if r.get(s) else "—" for s in ("a", "b"))
            self.object_table.setItem(row, 0, outcome)
            self.object_table.setItem(row, 1, QTableWidgetItem(classes))
            self.object_table.setItem(row, 2, QTableWidgetItem(f"{r['iou_change']:+.2f}" if "iou_change" in r else ""))
        self.controller.show_image(ViewRequest(image_id, self._paths[image_id]))

    def _on_object_selected(self) -> None:
        rows = self.object_table.selectionModel().selectedRows()
        image_id = self._current_image()
        if not rows or image_id is None:
            return
        record = self.object_table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        queries = [record[s]["query"] if record.get(s) else None for s in ("a", "b")]
        self.controller.show_image(ViewRequest(image_id, self._paths[image_id], *queries))

    @Slot(object)
    def _on_controller_view_ready(self, view) -> None:
        if view.image_id != self._current_image():
            return  # the user moved on
        self.panes.show_view(view, self._records_by_image.get(view.image_id, []))
        self.last_view = view
