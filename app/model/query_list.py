"""Every object query of the image on screen in a sortable table: query, class, score, box and
what was done with it. Picking a row selects that query (its attention shows on the canvas);
queries below the threshold are listed too, greyed."""
from __future__ import annotations

from PySide6.QtCore import (QAbstractTableModel, QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt,
                            Slot)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QVBoxLayout, QWidget

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
QUERY_ROLE = Qt.ItemDataRole.UserRole + 2
CLASS_WIDTH_MAX = 160  # px: a longer class name is elided in the table (the canvas shows it whole)


class QueryTableModel(QAbstractTableModel):
    COLUMNS = ("Query", "Class", "Score", "Box x, y, w, h", "")

    def __init__(self, model_state, parent=None):
        super().__init__(parent)
        self.model_state = model_state
        self.rows: list[tuple[int, str, float, tuple, str]] = []  # query, name, score, xywh, status

    def reload(self) -> None:
        self.beginResetModel()
        detections = self.model_state.current_detections()
        self.rows = []
        if detections is not None:
            names = detections.names
            width, height = detections.image_size
            for i in range(len(detections)):  # the box as it is drawn: inside the image, never negative
                x0, y0, x1, y1 = (float(v) for v in detections.boxes_xyxy[i])
                x0, x1 = min(max(x0, 0.0), width), min(max(x1, 0.0), width)
                y0, y1 = min(max(y0, 0.0), height), min(max(y1, 0.0), height)
                query = int(detections.query[i])
                self.rows.append((query, names[i], float(detections.scores[i]), (x0, y0, x1 - x0, y1 - y0),
                                  self.model_state.prediction_view.query_status(query)))
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        query, name, score, box, status = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (str(query), name, f"{score:.3f}", "{:.0f}, {:.0f}, {:.0f}, {:.0f}".format(*box), status)[column]
        if role == SORT_ROLE:
            return (query, name.lower(), score, box[2] * box[3], status)[column]
        if role == QUERY_ROLE:
            return query
        if role == Qt.ItemDataRole.ForegroundRole and (score < self.model_state.prediction_view.threshold or status):
            return QColor("#8a8f96")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 2):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class QueryListWidget(QWidget):
    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state, self.model_state = state, state.model
        self.table = QueryTableModel(self.model_state, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.table)
        self.proxy.setSortRole(SORT_ROLE)
        self._syncing = False
        self._stale = False  # the image changed while the table was out of sight: fill when shown
        view = self.view = QTableView()
        view.setModel(self.proxy)
        view.setSortingEnabled(True)
        view.sortByColumn(2, Qt.SortOrder.DescendingOrder)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 6)
        view.setAlternatingRowColors(True)
        header = view.horizontalHeader()
        # Widths from the font, not ResizeToContents: that asks every row for its text on each
        # resize and reload, a 13 ms stall per image shown (bench_model_gui --explain, issue 17).
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(True)  # the status column takes what is left
        metrics = view.fontMetrics()
        for column, sample in ((0, "Query"), (2, "0.000 ▲"), (3, "999, 999, 999, 999"), (4, "rejected")):
            header.resizeSection(column, metrics.horizontalAdvance(sample) + 16)
        self._fit_class_column(())
        view.selectionModel().currentRowChanged.connect(self._on_view_current_row_changed)
        view.doubleClicked.connect(lambda _index: self.model_state.acceptor.accept_selected())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view)
        m = self.model_state
        m.predictions_changed.connect(self._on_model_predictions_changed)
        m.query_changed.connect(self._on_model_query_changed)
        m.model_changed.connect(lambda info: self._fit_class_column(info.class_names))
        m.threshold_changed.connect(lambda _t: self.view.viewport().update())
        state.current_changed.connect(lambda _row: self.reload())
        state.annotations_changed.connect(lambda _image_id: self.reload())

    def _fit_class_column(self, names) -> None:
        """The Class column as wide as the model's longest class name (up to CLASS_WIDTH_MAX):
        measured once per model, not per image (a resize to contents stalls the GUI)."""
        metrics = self.view.fontMetrics()
        widest = max((metrics.horizontalAdvance(n) for n in ("Class", *names)), default=0)
        self.view.horizontalHeader().resizeSection(1, min(widest + 16, CLASS_WIDTH_MAX))

    def on_screen(self) -> bool:
        """Whether any of the table can be seen. A dock behind another dock's tab (the Attention
        dock behind Classes, as on a 1080p screen) is moved off the window, not hidden."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def reload(self) -> None:
        """Refill the table from the image on screen. A table out of sight waits until it is
        shown (`set_shown`, showEvent): it would be filled twice for every image flipped past,
        1-2 ms of GUI time each (issue 17, item 11)."""
        if self.on_screen():
            self._fill()
        else:
            self._stale = True

    @Slot(bool)
    def set_shown(self, shown: bool) -> None:
        """Its dock came into sight (QDockWidget.visibilityChanged, also for a tab chosen)."""
        if shown and self._stale:
            self._fill()

    def _fill(self) -> None:
        self._stale = False
        self._syncing = True
        self.table.reload()
        self._syncing = False
        self._select_query(self.model_state.prediction_view.selected_query)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._fill()

    def queries_in_view_order(self) -> list[int]:
        """The queries of the image on screen as the table lists them (sorted as it is sorted),
        also while it is hidden."""
        if self._stale:
            self._fill()
        return [self.proxy.index(r, 0).data(QUERY_ROLE) for r in range(self.proxy.rowCount())]

    @Slot(int)
    def _on_model_predictions_changed(self, row: int) -> None:
        if row in (-1, self.state.current_row):
            self.reload()

    @Slot(QModelIndex, QModelIndex)
    def _on_view_current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if not self._syncing and current.isValid():
            self.model_state.prediction_view.select_query(current.data(QUERY_ROLE))

    @Slot(int)
    def _on_model_query_changed(self, query: int) -> None:
        if not self.on_screen():
            self._stale = True  # selected when shown
        elif self._stale:
            self._fill()
        else:
            self._select_query(query)

    def _select_query(self, query: int) -> None:
        self._syncing = True
        selection = self.view.selectionModel()
        found = next((r for r in range(self.proxy.rowCount())
                      if self.proxy.index(r, 0).data(QUERY_ROLE) == query), None)
        if found is None:
            selection.clearSelection()
        else:
            index = self.proxy.index(found, 0)
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                      | QItemSelectionModel.SelectionFlag.Rows)
            self.view.scrollTo(index)
        self._syncing = False
