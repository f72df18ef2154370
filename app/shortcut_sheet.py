"""The shortcut sheet (F1): every key of the window, from the same table the menus are built from."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLineEdit, QTextBrowser, QVBoxLayout, QWidget

from .actions import ACTIONS, CANVAS_KEYS


def shortcut_rows() -> list[tuple[str, str, str]]:
    """(section, keys, what it does) for every key, in menu order; class keys 1-9 as one row."""
    rows = []
    for spec in ACTIONS:
        if not spec.keys:
            continue
        if spec.name.startswith("class_"):
            if spec.name == "class_1":
                rows.append((spec.menu, "1 … 9", "Set the selected boxes to class 1 … 9 (the order of the classes list)"))
            continue
        rows.append((spec.menu, " / ".join(spec.keys), spec.tip or spec.text.replace("&", "").rstrip("…")))
    rows += [("Canvas", keys, what) for keys, what in CANVAS_KEYS]
    return rows


def _html(rows: list[tuple[str, str, str]]) -> str:
    parts, section = ["<style>td{padding:2px 10px 2px 0;} kbd{font-weight:bold;}</style>"], None
    for sec, keys, what in rows:
        if sec != section:
            if section is not None:
                parts.append("</table>")
            parts.append(f"<h3>{html.escape(sec)}</h3><table>")
            section = sec
        parts.append(f"<tr><td width='45%'><kbd>{html.escape(keys)}</kbd></td><td>{html.escape(what)}</td></tr>")
    parts.append("</table>")
    return "".join(parts)


class ShortcutSheetDialog(QDialog):
    """A non-modal, searchable list of every shortcut."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(620, 640)
        self.rows = shortcut_rows()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search keys or actions…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.browser = QTextBrowser()
        self.browser.setHtml(_html(self.rows))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.setWindowFlag(Qt.WindowType.Tool, True)

    def _on_search_text_changed(self, text: str) -> None:
        needle = text.strip().lower()
        rows = [r for r in self.rows if needle in f"{r[1]} {r[2]}".lower()] if needle else self.rows
        self.browser.setHtml(_html(rows))
