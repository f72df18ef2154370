"""A searchable class list that pops up on the canvas after drawing a box (or on C).

Type to filter, Up/Down to move, Enter to accept, Esc to cancel; with an empty search, 1-9 pick
the n-th class. A name that matches no class offers to create it. It is a child widget of the
canvas, not a modal dialog, so keyboard-first work never waits on a nested event loop.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ..icons import dot_icon

_CREATE = -1  # item data of the "create new class" row


class ClassPickerWidget(QFrame):
    picked = Signal(int)  # category id
    create_requested = Signal(str)  # a class name that does not exist yet
    cancelled = Signal()

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("ClassPicker")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setFixedWidth(240)
        self._title = QLabel()
        self._title.setStyleSheet("font-weight: bold;")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search, or type a new class…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self._title)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self._categories: list[tuple[int, str, QColor]] = []
        self.search.textChanged.connect(self._on_search_text_changed)
        self.search.installEventFilter(self)
        self.list.itemClicked.connect(self._on_list_item_clicked)
        self.hide()

    def open_at(self, pos: QPoint, categories: list[tuple[int, str, QColor]],
                current: int | None, title: str) -> None:
        """Show at `pos` (parent coordinates) listing `categories` (id, name, colour)."""
        self._categories = list(categories)
        self._title.setText(title)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self._fill("", current)
        self.adjustSize()
        parent = self.parentWidget()
        x = min(max(pos.x(), 0), max(parent.width() - self.width(), 0))
        y = min(max(pos.y(), 0), max(parent.height() - self.height(), 0))
        self.move(x, y)
        self.show()
        self.raise_()
        self.search.setFocus(Qt.FocusReason.PopupFocusReason)

    def accept_current(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        value = item.data(Qt.ItemDataRole.UserRole)
        self.hide()
        if value == _CREATE:
            self.create_requested.emit(self.search.text().strip())
        else:
            self.picked.emit(int(value))

    def cancel(self) -> None:
        if self.isVisible():
            self.hide()
            self.cancelled.emit()

    def _fill(self, text: str, current: int | None = None) -> None:
        self.list.clear()
        needle = text.strip().lower()
        exact = False
        for number, (cat_id, name, color) in enumerate(self._categories, start=1):
            if needle and needle not in name.lower():
                continue
            exact |= name.lower() == needle
            hint = f"{number}  " if number <= 9 else "    "
            item = QListWidgetItem(dot_icon(color.name(), True), f"{hint}{name}")
            item.setData(Qt.ItemDataRole.UserRole, cat_id)
            self.list.addItem(item)
            if cat_id == current:
                self.list.setCurrentItem(item)
        if needle and not exact:
            item = QListWidgetItem(f"+ Create class “{text.strip()}”")
            item.setData(Qt.ItemDataRole.UserRole, _CREATE)
            self.list.addItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        rows = min(max(self.list.count(), 1), 10)  # as tall as its rows, up to ten
        self.list.setFixedHeight(rows * max(self.list.sizeHintForRow(0), 18) + 2 * self.list.frameWidth() + 2)
        self.adjustSize()

    def _on_search_text_changed(self, text: str) -> None:
        self._fill(text)

    def _on_list_item_clicked(self, item: QListWidgetItem) -> None:
        self.list.setCurrentItem(item)
        self.accept_current()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            return self._key(event)
        return super().eventFilter(watched, event)

    def _key(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept_current()
            return True
        if key == Qt.Key.Key_Escape:
            self.cancel()
            return True
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            step = 1 if key == Qt.Key.Key_Down else -1
            row = min(max(self.list.currentRow() + step, 0), self.list.count() - 1)
            self.list.setCurrentRow(row)
            return True
        if not self.search.text() and Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
            index = key - Qt.Key.Key_1
            if index < len(self._categories):
                self.hide()
                self.picked.emit(self._categories[index][0])
            return True
        return False
