"""Small builders for the fine-tune dialog's form rows."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget


def row(*widgets) -> QWidget:
    """Widgets side by side in one form row (line edits take the spare width)."""
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w, 1 if isinstance(w, QLineEdit) else 0)
    return box


def button(text: str, slot) -> QPushButton:
    b = QPushButton(text)
    b.clicked.connect(slot)
    return b


def columns(*columns: tuple[QWidget | str, ...]) -> QHBoxLayout:
    """Side-by-side columns of widgets, each topped up with a stretch (equal widths); a string
    becomes a label that wraps (a long path never widens the dialog)."""
    layout = QHBoxLayout()
    for widgets in columns:
        column = QVBoxLayout()
        for w in widgets:
            if isinstance(w, str):
                w = QLabel(w)
                w.setWordWrap(True)
            column.addWidget(w)
        column.addStretch(1)
        layout.addLayout(column, 1)
    return layout
