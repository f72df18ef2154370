"""The classes dock: every class with its colour, number key, box count, visibility and
supercategory; search; add, rename, merge, delete, recolour, set supercategory (all undoable)."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QHeaderView, QLineEdit, QMenu, QToolBar, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from . import class_dialogs as ask
from .icons import dot_icon, icon

ID_ROLE = Qt.ItemDataRole.UserRole


class ClassesWidget(QWidget):
    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self._filling = False
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search classes…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Class", "Boxes", "Super"])
        self.tree.headerItem().setToolTip(2, "Supercategory")
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        self.tree.header().resizeSection(2, 70)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._on_tree_context_menu_requested)
        self.tree.itemChanged.connect(self._on_tree_item_changed)
        self.tree.itemDoubleClicked.connect(lambda *_: self.rename_selected())
        self.actions = self._make_actions()
        toolbar = QToolBar()
        toolbar.setIconSize(toolbar.iconSize() * 0.75)
        for action in self.actions.values():
            toolbar.addAction(action)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(toolbar)
        layout.addWidget(self.tree, 1)
        self._refresh_timer = QTimer(self, singleShot=True, interval=120)
        self._refresh_timer.timeout.connect(self.refresh)
        for signal in (state.document_opened, state.categories_changed, state.visibility_changed):
            signal.connect(self.refresh)
        state.annotations_changed.connect(lambda _id: self._refresh_timer.start())
        self.refresh()

    def _make_actions(self) -> dict[str, QAction]:
        specs = [("add", "Add class…", "class-add", self.add_class),
                 ("rename", "Rename…", "class-rename", self.rename_selected),
                 ("merge", "Merge into…", "class-merge", self.merge_selected),
                 ("delete", "Delete…", "delete", self.delete_selected),
                 ("color", "Colour…", "class-color", self.recolor_selected),
                 ("super", "Supercategory…", "change-class", self.set_supercategory_of_selected)]
        actions = {}
        for key, text, icon_name, slot in specs:
            action = QAction(icon(icon_name), text, self)
            action.setToolTip(text.rstrip("…"))
            action.triggered.connect(slot)
            actions[key] = action
        return actions

    # -- view -------------------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        chosen = self.selected_id()
        counts = self.state.category_counts()
        self._filling = True
        self.tree.clear()
        for number, cat in enumerate(self.state.categories(), start=1):
            hint = f"{number}  " if number <= 9 else "    "
            item = QTreeWidgetItem([f"{hint}{cat['name']}", str(counts.get(cat["id"], 0)),
                                    str(cat.get("supercategory") or "")])
            item.setData(0, ID_ROLE, cat["id"])
            item.setIcon(0, dot_icon(self.state.category_color(cat["id"]).name(), True))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            visible = cat["id"] not in self.state.hidden_categories
            item.setCheckState(0, Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)
            item.setToolTip(0, f"{cat['name']} (id {cat['id']}"
                                + (f", key {number}" if number <= 9 else "") + "). Untick to hide its boxes.")
            item.setToolTip(2, str(cat.get("supercategory") or ""))
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.tree.addTopLevelItem(item)
            if cat["id"] == chosen:
                self.tree.setCurrentItem(item)
        self._filling = False
        self._on_search_text_changed(self.search.text())
        has_doc = self.state.document is not None
        for key, action in self.actions.items():
            action.setEnabled(has_doc)

    def selected_id(self) -> int | None:
        item = self.tree.currentItem()
        return item.data(0, ID_ROLE) if item is not None else None

    def select(self, category_id: int) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, ID_ROLE) == category_id:
                self.tree.setCurrentItem(item)

    @Slot(str)
    def _on_search_text_changed(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            haystack = f"{item.text(0)} {item.text(2)}".lower()
            item.setHidden(bool(needle) and needle not in haystack)

    @Slot(QTreeWidgetItem, int)
    def _on_tree_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if not self._filling and column == 0:
            visible = item.checkState(0) == Qt.CheckState.Checked
            if visible != (item.data(0, ID_ROLE) not in self.state.hidden_categories):
                self.state.set_category_visible(item.data(0, ID_ROLE), visible)

    def _on_tree_context_menu_requested(self, pos) -> None:
        menu = QMenu(self)
        for action in self.actions.values():
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction("Show only this class", self._show_only_selected)
        menu.addAction("Show all classes", self._show_all)
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def _show_only_selected(self) -> None:
        chosen = self.selected_id()
        if chosen is None:
            return
        self.state.hidden_categories = {c["id"] for c in self.state.categories() if c["id"] != chosen}
        self.state.set_boxes_visible(True)

    def _show_all(self) -> None:
        self.state.hidden_categories = set()
        self.state.set_boxes_visible(True)

    # -- edits ------------------------------------------------------------------------------------
    def _chosen(self) -> dict | None:
        chosen = self.selected_id()
        if chosen is None:
            self.state.message.emit("Select a class in the list first.")
            return None
        return next((c for c in self.state.categories() if c["id"] == chosen), None)

    def _others(self, category: dict) -> list[dict]:
        return [c for c in self.state.categories() if c["id"] != category["id"]]

    def add_class(self) -> None:
        if self.state.document is None:
            return
        name = ask.ask_text(self, "Add class", "Name of the new class:")
        if name:
            new_id = self.state.edits.add_category(name)
            if new_id is not None:
                self.select(new_id)

    def rename_selected(self) -> None:
        category = self._chosen()
        if category:
            name = ask.ask_text(self, "Rename class", "New name:", category["name"])
            if name and name != category["name"]:
                self.state.edits.rename_category(category["id"], name)

    def set_supercategory_of_selected(self) -> None:
        category = self._chosen()
        if category:
            current = str(category.get("supercategory") or "")
            value = ask.ask_text(self, "Supercategory", f"Supercategory of “{category['name']}”:", current)
            if value is not None and value != current:
                self.state.edits.set_supercategory(category["id"], value)

    def merge_selected(self) -> None:
        category = self._chosen()
        if category:
            target = ask.ask_merge_target(self, category, self._others(category))
            if target is not None:
                self.state.edits.merge_categories(category["id"], target)
                self.select(target)

    def delete_selected(self) -> None:
        category = self._chosen()
        if category:
            count = self.state.category_counts().get(category["id"], 0)
            answer = ask.ask_delete_policy(self, category, count, self._others(category))
            if answer is not None:
                boxes, target = answer
                self.state.edits.remove_category(category["id"], boxes=boxes, target_id=target)

    def recolor_selected(self) -> None:
        category = self._chosen()
        if category:
            color = ask.ask_color(self, self.state.category_color(category["id"]), category["name"])
            if color is not None:
                self.state.edits.set_category_color(category["id"], color)
