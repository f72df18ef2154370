"""The Runs list: every remembered run with how it ended and its final numbers side by side;
tick a run to draw its curves over the current ones, select it to see its metrics table, resume
it, or use its model."""
from __future__ import annotations

import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from detr_core.errors import DatasetError
from detr_core.review.loop import LoopStats, read_loop_stats

from .metrics_table import percent
from .runs import RunRecord

_COLUMNS = ("Run", "Status", "Epochs", "Steps", "Loss", "AP", "AP50", "AP75", "Images", "Started", "Base", "Loop")
LOOP = _COLUMNS.index("Loop")  # what the user kept of the run's pre-labels (RUN_DIR/review_loop.json)


def loop_cell(run_dir: Path) -> tuple[str, str]:
    """(cell, tooltip): accepted unchanged of all pre-labels, and every count per model version."""
    try:
        versions = read_loop_stats(run_dir)
    except DatasetError as e:
        return "?", str(e)
    if not versions:
        return "", ""
    total = sum(versions.values(), LoopStats())
    lines = [f"{v}: {s.prelabels} pre-labels on {s.images} images: {s.accepted} accepted unchanged, "
             f"{s.moved} moved, {s.reclassified} reclassified, {s.deleted} deleted; {s.added} added by hand"
             for v, s in sorted(versions.items())]
    return f"{total.accepted}/{total.prelabels} kept", "\n".join(lines)


def _cells(record: RunRecord, live: bool) -> list[str]:
    m = record.metrics or {}
    started = (datetime.datetime.fromtimestamp(record.started).strftime("%Y-%m-%d %H:%M")
               if record.started else "")
    status = "running" if live else record.status
    return [record.name, status, f"{record.epoch}/{record.epochs}" if record.epochs else "",
            f"{record.step}/{record.total_steps}" if record.total_steps else "",
            f"{record.final_loss:.3f}" if record.final_loss is not None else "",
            percent(m.get("AP")) if m else "", percent(m.get("AP50")) if m else "",
            percent(m.get("AP75")) if m else "",
            f"{record.train_images}+{record.val_images}" if record.started else "", started, record.base]


class RunHistoryWidget(QWidget):
    def __init__(self, training, parent=None):
        super().__init__(parent)
        self.training = training
        self._filling = False
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("Tick a run to draw its curves (dashed) over the current ones")
        self.table.itemChanged.connect(self._on_table_item_changed)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        buttons = QHBoxLayout()
        for text, slot, tip in (("Refresh", training.refresh_runs, "Read the run folders again"),
                                ("Add Run Folder…", self.add_folder, "List a run trained elsewhere"),
                                ("Remove from List", self.remove_selected, "Forget it here; its files stay")):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        training.runs_changed.connect(self.fill)
        training.overlays_changed.connect(self.fill)
        training.status_changed.connect(lambda _s: self.fill())
        training.job_finished.connect(lambda _o: self.fill())
        self.fill()

    @Slot()
    def fill(self) -> None:
        self._filling = True
        runs, live = self.training.runs, self.training.record if self.training.job is not None else None
        self.table.setRowCount(len(runs))
        for r, record in enumerate(runs):
            loop_text, loop_tip = loop_cell(record.run_dir)
            for c, text in enumerate(_cells(record, record is live) + [loop_text]):
                item = QTableWidgetItem(text)
                if c == 0:
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Checked if str(record.run_dir) in self.training.overlays
                                       else Qt.CheckState.Unchecked)
                    item.setData(Qt.ItemDataRole.UserRole, str(record.run_dir))
                    item.setToolTip(str(record.run_dir) + (f"\n{record.message}" if record.message else ""))
                if c == LOOP:
                    item.setToolTip(loop_tip or "No pre-labels of this run's model saved yet")
                self.table.setItem(r, c, item)
            if self.training.selected is not None and record.run_dir == self.training.selected.run_dir:
                self.table.selectRow(r)
        self.table.resizeColumnsToContents()
        self._filling = False

    def record_at(self, row: int) -> RunRecord | None:
        return self.training.runs[row] if 0 <= row < len(self.training.runs) else None

    @Slot(QTableWidgetItem)
    def _on_table_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 0:
            return
        self.training.set_overlay(Path(item.data(Qt.ItemDataRole.UserRole)),
                                  item.checkState() == Qt.CheckState.Checked)

    @Slot()
    def _on_table_selection_changed(self) -> None:
        if self._filling:
            return
        rows = self.table.selectionModel().selectedRows()
        record = self.record_at(rows[0].row()) if rows else None
        if record is not None:
            self.training.select_run(record)

    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a run folder")
        if folder:
            self.training.add_run(Path(folder))

    def remove_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        record = self.record_at(rows[0].row()) if rows else None
        if record is not None:
            self.training.remove_run(record.run_dir)
