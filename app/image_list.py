"""The image list dock: file names with status, box counts and error marks; filters.

The model is a thin view over `state.entries` (a list of paths), so 10,000 images cost nothing
until rows are painted; status and box counts come from the document's index on demand.
"""
from __future__ import annotations

from PySide6.QtCore import (QAbstractTableModel, QItemSelectionModel, QModelIndex, QSortFilterProxyModel,
                            Qt, QTimer, Slot)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QStyle, QTreeView, QVBoxLayout, QWidget)

from .colors import STATUS_COLORS
from .icons import dot_icon
from .image_filter import ERROR, ImageFilter
from .state import STATUSES

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1


class ImageListModel(QAbstractTableModel):
    COLUMNS = ("Image", "Boxes")

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self._error_icon = None
        state.document_opened.connect(self._on_state_document_opened)
        state.image_changed.connect(self._on_state_image_changed)
        state.categories_changed.connect(self._on_state_everything_changed)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else self.state.row_count()

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        entry = self.state.entry(row)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return entry.name
            return str(len(self.state.annotations(row))) if entry.image_id is not None else ""
        if role == STATUS_ROLE:
            return ERROR if entry.error else self.state.status(row)
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            if entry.error:
                if self._error_icon is None:
                    self._error_icon = QApplication.style().standardIcon(
                        QStyle.StandardPixmap.SP_MessageBoxWarning)
                return self._error_icon
            return dot_icon(STATUS_COLORS[self.state.status(row)])
        if role == Qt.ItemDataRole.ToolTipRole:
            if entry.error:
                return entry.error
            return f"{entry.path}\nstatus: {self.state.status(row)}"
        if role == Qt.ItemDataRole.ForegroundRole and entry.error:
            return QColor(STATUS_COLORS[ERROR])
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @Slot()
    def _on_state_document_opened(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    @Slot(int)
    def _on_state_image_changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    @Slot()
    def _on_state_everything_changed(self) -> None:
        if self.state.row_count():
            self.dataChanged.emit(self.index(0, 0), self.index(self.state.row_count() - 1, 1))


class ImageFilterProxy(QSortFilterProxyModel):
    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.setDynamicSortFilter(True)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        return self.state.matches(source_row)

    def refilter(self) -> None:
        """The filter changed: re-evaluate every row."""
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9
            self.beginFilterChange()
            self.endFilterChange()
        else:
            self.invalidateFilter()


class ImageListWidget(QWidget):
    """Filter bar, the list, and a one-line summary. Picking a row shows that image."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.model = ImageListModel(state, self)
        self.proxy = ImageFilterProxy(state, self)
        self.proxy.setSourceModel(self.model)
        self._syncing = False
        self._setup_filters()
        self._setup_view()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        row = QHBoxLayout()
        row.addWidget(self.status_combo, 1)
        row.addWidget(self.class_combo, 1)
        layout.addLayout(row)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)
        self._summary_timer = QTimer(self, singleShot=True, interval=150)
        self._summary_timer.timeout.connect(self._update_summary)
        state.current_changed.connect(self._on_state_current_changed)
        state.filter_changed.connect(self._on_state_filter_changed)
        state.document_opened.connect(self._on_state_categories_changed)
        state.categories_changed.connect(self._on_state_categories_changed)
        state.image_changed.connect(lambda _row: self._summary_timer.start())
        state.document_opened.connect(self._summary_timer.start)

    def _setup_filters(self) -> None:
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by file name…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_filters_edited)
        self.status_combo = QComboBox()
        self.status_combo.addItem("Any status", None)
        for status in STATUSES:
            self.status_combo.addItem(dot_icon(STATUS_COLORS[status]), status.capitalize(), status)
        self.status_combo.addItem(dot_icon(STATUS_COLORS[ERROR]), "Unreadable", ERROR)
        self.status_combo.currentIndexChanged.connect(self._on_filters_edited)
        self.class_combo = QComboBox()
        self.class_combo.addItem("Any class", None)
        self.class_combo.currentIndexChanged.connect(self._on_filters_edited)
        self.summary = QLabel()
        self.summary.setStyleSheet("color: palette(mid);")

    def _setup_view(self) -> None:
        view = self.view = QTreeView()
        view.setModel(self.proxy)
        view.setRootIsDecorated(False)
        view.setUniformRowHeights(True)  # constant-time layout for 10,000 rows
        view.setAlternatingRowColors(True)
        view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long file names keep their ends
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.header().setStretchLastSection(False)
        view.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        view.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        view.selectionModel().currentRowChanged.connect(self._on_view_current_row_changed)

    # -- filters ----------------------------------------------------------------------------------
    @Slot()
    def _on_filters_edited(self, *_args) -> None:
        self.state.set_filter(ImageFilter(status=self.status_combo.currentData(),
                                          category_id=self.class_combo.currentData(),
                                          text=self.search.text().strip()))

    @Slot()
    def _on_state_filter_changed(self) -> None:
        self.proxy.refilter()
        self._select_current()
        self._summary_timer.start()

    @Slot()
    def _on_state_categories_changed(self) -> None:
        chosen = self.class_combo.currentData()
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem("Any class", None)
        for cat in self.state.categories():
            self.class_combo.addItem(dot_icon(self.state.category_color(cat["id"]).name(), True),
                                     cat["name"], cat["id"])
        index = self.class_combo.findData(chosen)
        self.class_combo.setCurrentIndex(max(index, 0))
        self.class_combo.blockSignals(False)
        if chosen is not None and index < 0:
            self._on_filters_edited()

    # -- current image ----------------------------------------------------------------------------
    @Slot(QModelIndex, QModelIndex)
    def _on_view_current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if self._syncing or not current.isValid():
            return
        row = self.proxy.mapToSource(current).row()
        if row != self.state.current_row:
            self.state.go_to(row)

    @Slot(int)
    def _on_state_current_changed(self, row: int) -> None:
        self._select_current()
        self._summary_timer.start()

    def _select_current(self) -> None:
        row = self.state.current_row
        index = self.proxy.mapFromSource(self.model.index(row, 0)) if row >= 0 else QModelIndex()
        self._syncing = True
        selection = self.view.selectionModel()
        if index.isValid():
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                      | QItemSelectionModel.SelectionFlag.Rows)
            self.view.scrollTo(index)
        else:
            selection.clearSelection()
        self._syncing = False

    def visible_rows(self) -> list[int]:
        """Source rows the list shows, in order (what D / A walk through)."""
        return [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(self.proxy.rowCount())]

    @Slot()
    def _update_summary(self) -> None:
        n, shown = self.state.row_count(), self.proxy.rowCount()
        if n == 0:
            self.summary.setText("No images")
            return
        current = self.state.current_row + 1
        reviewed = sum(1 for r in range(n) if self.state.status(r) == "reviewed") if n <= 50_000 else None
        parts = [f"Image {current} of {n}"]
        if shown != n:
            parts.append(f"{shown} shown")
        if reviewed is not None:
            parts.append(f"{reviewed} reviewed")
        self.summary.setText(" · ".join(parts))
