"""The notes under the model's description in the Model dock (issue 17, items 2 and 3):

  - a load failure, whole and wrapped (URLs and folders break at '/'), in red, with a Copy button;
    the loaded model's own description above it keeps its colour;
  - for the bundled demo model, that it only knows synthetic shapes, and whether its classes occur
    in the open file, with the way to a real model: official COCO weights (detr-r50) or a checkpoint
    of one's own (the panel's browse menu).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .model_state import DEMO_MODEL

OFFICIAL_SUGGESTION = "detr-r50"
ERROR_STYLE = "color: #d93025;"
ZERO_WIDTH_SPACE = "\u200b"


def breakable(text: str) -> str:
    """`text` with a zero-width space after each '/' and '_', so a long URL or path can wrap."""
    return text.replace("/", "/" + ZERO_WIDTH_SPACE).replace("_", "_" + ZERO_WIDTH_SPACE)


def demo_note(model_classes: tuple[str, ...], file_classes: list[str]) -> str:
    known = sorted({n for n in model_classes if n and n != "N/A"})
    text = (f"The demo model only knows synthetic shapes ({', '.join(known)}): on photos its boxes mean "
            f"nothing. Use {OFFICIAL_SUGGESTION} (official COCO weights) or your own checkpoint.")
    if file_classes and not set(known) & {c.lower() for c in file_classes}:
        text += " None of its classes occur in this file."
    return text


class ModelNoticeWidget(QWidget):
    official_requested = Signal(str)  # the user asked for the official weights (a name)
    browse_requested = Signal()  # the user asked to choose a checkpoint of their own

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state, self.model_state = state, state.model
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the whole message (with its URL and folder)")
        self.copy_button.clicked.connect(self.copy_error)
        self.demo = QLabel()
        self.demo.setWordWrap(True)
        self.use_official = QPushButton(f"Use {OFFICIAL_SUGGESTION}")
        self.use_official.setToolTip("Load the official DETR ResNet-50 weights trained on COCO")
        self.use_official.clicked.connect(lambda: self.official_requested.emit(OFFICIAL_SUGGESTION))
        self.browse = QPushButton("Your checkpoint…")
        self.browse.clicked.connect(self.browse_requested.emit)
        error_row, demo_row = QHBoxLayout(), QHBoxLayout()
        error_row.addWidget(self.error, 1)
        error_row.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignTop)
        demo_row.addWidget(self.use_official)
        demo_row.addWidget(self.browse)
        demo_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(error_row)
        layout.addWidget(self.demo)
        layout.addLayout(demo_row)
        m = self.model_state
        for signal in (m.model_changed, m.load_failed, m.loading_changed):
            signal.connect(self.refresh)
        state.document_opened.connect(self.refresh)
        self.refresh()

    def error_text(self) -> str:
        """The whole load failure shown (without the wrapping marks), or ''."""
        return self.model_state.error if self.error.isVisibleTo(self) else ""

    def demo_text(self) -> str:
        return self.demo.text() if self.demo.isVisibleTo(self) else ""

    def copy_error(self) -> None:
        QGuiApplication.clipboard().setText(self.model_state.error)
        self.state.message.emit("The model's message is copied.")

    @Slot()
    def refresh(self, *_args) -> None:
        m = self.model_state
        self.error.setText(breakable(m.error))
        for widget in (self.error, self.copy_button):
            widget.setVisible(bool(m.error))
        is_demo = m.info is not None and m.info.source == str(DEMO_MODEL)
        if is_demo:
            self.demo.setText(demo_note(m.info.class_names, [c["name"] for c in self.state.categories()]))
        for widget in (self.demo, self.use_official, self.browse):
            widget.setVisible(is_demo)
