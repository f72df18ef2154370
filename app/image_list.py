"""The image list dock: file names with status, box counts and error marks; filters.

The model is a thin view over `state.entries` (a list of paths), so 10,000 images cost nothing
until rows are painted; status and box counts come from the document's index on demand.
"""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, Qt, QTimer, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QStyle, QTreeView, QVBoxLayout, QWidget)

from .colors import STATUS_COLORS
from .icons import dot_icon
from .document.entries import STATUSES
from .document.image_filter import ERROR, ImageFilter
from .document.image_order import ordered

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
_R = Qt.ItemDataRole
# The roles data() answers. A painted cell asks for seven roles (font, background, check state,
# ...): the others return at once, before any lookup (issue 17, item 11).
ANSWERED_ROLES = frozenset(int(r) for r in (_R.DisplayRole, _R.DecorationRole, _R.ToolTipRole, _R.ForegroundRole,
                                            _R.TextAlignmentRole, STATUS_ROLE))
PREDICTIONS_REDRAW_MS = 250  # pre-annotation finishes many images a second: their rows, in one go
ROWS_PER_PAINT = 4  # ... a few rows per paint: a painted row costs ~0.3 ms of GUI time (Python's data)


class ImageListModel(QAbstractTableModel):
    """The rows of `state.entries` that pass the filter, in list order. Filtering is one Python
    loop here (no per-row callbacks from a proxy model), so 10,000 rows list in milliseconds. A
    row whose status changes stays listed until the filter changes, so it never vanishes from
    under the cursor; D / A already skip it (they ask the filter live)."""

    COLUMNS = ("Image", "Boxes", "Pred", "Review")  # Pred: the model's predictions shown for the image;
    # Review: the review queue's score (blank: not reviewed yet). A click on a header sorts by it.
    REVIEW = 3

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.rows: list[int] = []  # model row -> entry row
        self._position: dict[int, int] = {}  # entry row -> model row
        self._error_icon = None
        state.document_opened.connect(self.refilter)
        state.filter_changed.connect(self.refilter)
        state.image_changed.connect(self._on_state_image_changed)
        state.categories_changed.connect(self._on_state_categories_changed)
        state.model.predictions_changed.connect(self._on_model_predictions_changed)
        state.model.threshold_changed.connect(self._on_state_categories_changed)
        self.sorting: tuple[int, bool] | None = None  # (column, descending); None: list order
        self._changed_rows: set[int] = set()  # entry rows whose predictions changed, not redrawn yet
        self._redraw = QTimer(self, singleShot=True, interval=PREDICTIONS_REDRAW_MS)
        self._redraw.timeout.connect(self._redraw_changed_rows)

    @Slot()
    def refilter(self) -> None:
        self.beginResetModel()
        n, state = self.state.row_count(), self.state
        self.rows = [r for r in range(n) if state.matches(r)] if state.filter.is_active() else list(range(n))
        if self.sorting is not None:
            self.rows = ordered(self.rows, self._sort_key(self.sorting[0]), self.sorting[1])
        self._position = {r: i for i, r in enumerate(self.rows)}
        self.endResetModel()

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by `column` (-1: list order again). Rows whose value arrives later (a
        review score) keep their place until the next sort, so nothing moves under the cursor."""
        self.sorting = None if column < 0 else (column, order == Qt.SortOrder.DescendingOrder)
        self.refilter()

    def _sort_key(self, column: int):
        state = self.state
        if column == 0:
            return lambda r: state.entry(r).name.casefold()
        if column == 1:
            return lambda r: len(state.annotations(r)) if state.entry(r).image_id is not None else None
        if column == 2:
            return state.model.prediction_count
        return lambda r: state.entry(r).review_score

    def entry_row(self, model_row: int) -> int:
        return self.rows[model_row]

    def index_of_entry(self, entry_row: int, column: int = 0) -> QModelIndex:
        position = self._position.get(entry_row)
        return self.index(position, column) if position is not None else QModelIndex()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.InitialSortOrderRole:
            return Qt.SortOrder.AscendingOrder if section == 0 else Qt.SortOrder.DescendingOrder  # most first
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if role not in ANSWERED_ROLES or not index.isValid() or index.row() >= len(self.rows):
            return None
        row, column = self.rows[index.row()], index.column()
        if row >= self.state.row_count():  # asked while a reset begins: the list was replaced
            return None
        entry = self.state.entry(row)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return entry.name
            if column == 2:
                count = self.state.model.prediction_count(row)
                return "" if count is None else str(count)
            if column == self.REVIEW:
                return "" if entry.review_score is None else f"{entry.review_score:.2f}"
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
            if column == self.REVIEW and entry.review_score is not None:
                return f"review score {entry.review_score:.2f}: how likely its labels hold a mistake (Review dock)"
            count = self.state.model.prediction_count(row) if column == 2 else None
            if count is not None:
                return f"{count} prediction(s) at or above the threshold, not yet accepted or rejected"
            return f"{entry.path}\nstatus: {self.state.status(row)}"
        if role == Qt.ItemDataRole.ForegroundRole and entry.error:
            return QColor(STATUS_COLORS[ERROR])
        if role == Qt.ItemDataRole.ForegroundRole and column == 2:
            return QColor(STATUS_COLORS["predicted"])
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (1, 2, self.REVIEW):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @Slot(int)
    def _on_model_predictions_changed(self, entry_row: int) -> None:
        """The image on screen is redrawn at once; others (a background job's) together, at most
        every PREDICTIONS_REDRAW_MS: one repaint per image would take GUI time from the job."""
        if entry_row < 0:
            self._on_state_categories_changed()
        elif entry_row == self.state.current_row:
            self._on_state_image_changed(entry_row)
        else:
            self._changed_rows.add(entry_row)
            if not self._redraw.isActive():
                self._redraw.start()

    @Slot()
    def _redraw_changed_rows(self) -> None:
        """Redraw ROWS_PER_PAINT of the changed rows, the next ones on the next turn of the event
        loop, after that paint: 20 rows at once took one 7-22 ms paint (issue 17, item 11)."""
        positions = sorted(p for p in map(self._position.get, self._changed_rows) if p is not None)
        now, later = positions[:ROWS_PER_PAINT], positions[ROWS_PER_PAINT:]
        self._changed_rows = {self.rows[p] for p in later}
        for position in now:
            self.dataChanged.emit(self.index(position, 0), self.index(position, len(self.COLUMNS) - 1))
        if later:
            QTimer.singleShot(0, self, self._redraw_changed_rows)

    @Slot(int)
    def _on_state_image_changed(self, entry_row: int) -> None:
        first = self.index_of_entry(entry_row)
        if first.isValid():
            self.dataChanged.emit(first, self.index_of_entry(entry_row, len(self.COLUMNS) - 1))

    @Slot()
    def _on_state_categories_changed(self) -> None:
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(self.COLUMNS) - 1))


class ImageListWidget(QWidget):
    """Filter bar, the list, and a one-line summary. Picking a row shows that image."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.model = ImageListModel(state, self)
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
        view.setModel(self.model)
        view.setRootIsDecorated(False)
        view.setUniformRowHeights(True)  # constant-time layout for 10,000 rows
        view.setAlternatingRowColors(True)
        view.setTextElideMode(Qt.TextElideMode.ElideLeft)  # the distinguishing end of a name shows
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.header().setStretchLastSection(False)
        view.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Fixed, not ResizeToContents: that would ask every one of 10,000 rows for its text.
        view.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        view.header().resizeSection(1, view.fontMetrics().horizontalAdvance("Boxes") + 16)
        view.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        view.header().resizeSection(2, view.fontMetrics().horizontalAdvance("Pred") + 16)
        view.header().setSectionResizeMode(3, QHeaderView.ResizeMode.Fixed)
        view.header().resizeSection(3, view.fontMetrics().horizontalAdvance("Review") + 20)
        # A click on a header sorts by it (the model sorts: a proxy would cost a callback per row);
        # until then the list keeps its own order.
        view.header().setSectionsClickable(True)
        view.header().setSortIndicatorShown(True)
        view.header().setSortIndicator(-1, Qt.SortOrder.DescendingOrder)
        view.header().setSortIndicatorClearable(True)  # a third click: list order again
        view.header().sortIndicatorChanged.connect(self._on_header_sort_indicator_changed)
        view.selectionModel().currentRowChanged.connect(self._on_view_current_row_changed)
        # The header shares the view's selection model by default, and a selected row spans all
        # its sections: every image shown repainted the whole header (0.3-1.2 ms of GUI time, issue
        # 17 item 11). Its own model keeps it out of row selections; clicks still sort.
        view.header().setSelectionModel(QItemSelectionModel(self.model, view.header()))

    @Slot(int, Qt.SortOrder)
    def _on_header_sort_indicator_changed(self, column: int, order: Qt.SortOrder) -> None:
        self.model.sort(column, order)
        self._select_current()

    # -- filters ----------------------------------------------------------------------------------
    @Slot()
    def _on_filters_edited(self, *_args) -> None:
        self.state.set_filter(ImageFilter(status=self.status_combo.currentData(),
                                          category_id=self.class_combo.currentData(),
                                          text=self.search.text().strip()))

    @Slot()
    def _on_state_filter_changed(self) -> None:
        wanted = self.state.filter  # show it (after opening, the filter starts empty again)
        for widget, value in ((self.status_combo, wanted.status), (self.class_combo, wanted.category_id)):
            widget.blockSignals(True)
            widget.setCurrentIndex(max(widget.findData(value), 0))
            widget.blockSignals(False)
        if self.search.text().strip() != wanted.text:
            self.search.blockSignals(True)
            self.search.setText(wanted.text)
            self.search.blockSignals(False)
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
        row = self.model.entry_row(current.row())
        if row != self.state.current_row:
            self.state.go_to(row)

    @Slot(int)
    def _on_state_current_changed(self, row: int) -> None:
        self._select_current()
        self._summary_timer.start()

    def _select_current(self) -> None:
        row = self.state.current_row
        index = self.model.index_of_entry(row) if row >= 0 else QModelIndex()
        self._syncing = True
        selection = self.view.selectionModel()
        if index.isValid():
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                      | QItemSelectionModel.SelectionFlag.Rows)
            self.view.scrollTo(index)
        else:
            selection.clearSelection()
        self._syncing = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        row = self.state.current_row  # the current image stays in view when the dock is resized
        if row >= 0 and self.model.index_of_entry(row).isValid():
            QTimer.singleShot(0, lambda: self.view.scrollTo(self.model.index_of_entry(self.state.current_row)))

    def visible_rows(self) -> list[int]:
        """Entry rows the list shows, in order."""
        return list(self.model.rows)

    @Slot()
    def _update_summary(self) -> None:
        n, shown = self.state.row_count(), self.model.rowCount()
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
