"""The questions class management asks, as small functions over Qt's standard dialogs (so tests
can answer them by monkeypatching QInputDialog / QColorDialog / QMessageBox)."""
from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QInputDialog, QLineEdit, QMessageBox, QWidget

DELETE_BOXES = "delete"
KEEP_AS = "keep-as"


def ask_text(parent: QWidget, title: str, label: str, text: str = "") -> str | None:
    value, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Normal, text)
    return value.strip() if ok and value.strip() else None


def ask_merge_target(parent: QWidget, source: dict, others: list[dict]) -> int | None:
    """Which class the boxes of `source` should become; None if cancelled."""
    if not others:
        QMessageBox.information(parent, "Merge class", "There is no other class to merge into.")
        return None
    names = [c["name"] for c in others]
    name, ok = QInputDialog.getItem(parent, "Merge class",
                                    f"Merge “{source['name']}” into (its boxes change class, "
                                    "then it is removed):", names, 0, False)
    return others[names.index(name)]["id"] if ok and name in names else None


def ask_delete_policy(parent: QWidget, category: dict, box_count: int,
                      others: list[dict]) -> tuple[str, int | None] | None:
    """What becomes of the boxes of a deleted class: (DELETE_BOXES, None), (KEEP_AS, target id),
    or None if the user cancels."""
    name = category["name"]
    if box_count == 0:
        answer = QMessageBox.question(parent, "Delete class", f"Delete the class “{name}”? It has no boxes.")
        return (DELETE_BOXES, None) if answer == QMessageBox.StandardButton.Yes else None
    plural = "box" if box_count == 1 else "boxes"
    choices = [f"Delete its {box_count} {plural} too"]
    choices += [f"Keep the {plural} as “{c['name']}”" for c in others]
    choice, ok = QInputDialog.getItem(parent, "Delete class",
                                      f"“{name}” has {box_count} {plural}. What should happen to "
                                      f"{'it' if box_count == 1 else 'them'}?", choices, 0, False)
    if not ok or choice not in choices:
        return None
    index = choices.index(choice)
    return (DELETE_BOXES, None) if index == 0 else (KEEP_AS, others[index - 1]["id"])


def ask_color(parent: QWidget, current: QColor, name: str) -> str | None:
    color = QColorDialog.getColor(current, parent, f"Colour of “{name}”")
    return color.name() if color.isValid() else None
