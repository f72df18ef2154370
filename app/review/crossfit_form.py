"""`CrossfitForm`: the Review dock's "Cross-fit…" group. K fold models are trained in the
background on the other folds, each scoring its held-out fold, so no image is scored by a model
that saw it (`detr-workbench review --folds K --fold-train OPTIONS`). The form only gathers K and
the fold-training options and shows the latest fold line; `start_requested(k, options)` asks the
window to run it. `parse()` checks the options (shlex) and K before anything starts."""
from __future__ import annotations

import shlex

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox

WARNING = ("the fold models must not start from weights trained on these images: "
           "use the base model you fine-tuned from")


class CrossfitForm(QGroupBox):
    start_requested = Signal(int, str)  # K folds, the fold-training options (one string, shell-quoted)
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__("Cross-fit…", parent)
        self.setCheckable(True)
        self.setChecked(False)  # folded away until asked for
        self.setToolTip("Score every labelled image with a model trained without it: K fold models, "
                        "trained in the background, each scoring its held-out fold.")
        self.folds = QSpinBox(minimum=2, maximum=10, value=5)
        self.options = QLineEdit()
        self._default = ""
        self.options.setPlaceholderText("--checkpoint BASE_MODEL --time-budget 2m")
        self.options.setToolTip("options of `detr-workbench train` for each fold model")
        self.warning = QLabel(WARNING)
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b9770e;")
        self.start = QPushButton("Start")
        self.start.clicked.connect(self._on_start_clicked)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("stop the fold training and the review")
        self.cancel.clicked.connect(self.cancel_requested)
        self.status = QLabel("")  # the latest fold line while it runs, or why nothing started
        self.status.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("folds (K)", self.folds)
        form.addRow("fold training", self.options)
        form.addRow(self.warning)
        row = QHBoxLayout()
        row.addWidget(self.start)
        row.addWidget(self.cancel)
        row.addStretch(1)
        form.addRow(row)
        form.addRow(self.status)

    def set_model_source(self, source: str | None) -> None:
        """The default options: start each fold from the loaded model (the warning says why that
        is only right when it did not see these images). The user's own text is kept."""
        if source and self.options.text().strip() in ("", self._default):
            self._default = f"--checkpoint {shlex.quote(str(source))} --time-budget 2m"
            self.options.setText(self._default)

    def parse(self, images: int) -> tuple[int, list[str]] | str:
        """(K, the options as arguments), or the one line that says why not, for a file of
        `images` labelled images."""
        text = self.options.text().strip()
        try:
            arguments = shlex.split(text)
        except ValueError as e:
            return f"fold training options do not parse ({e}): {text}"
        if not arguments:
            return "give the fold training options, e.g. --checkpoint BASE_MODEL --time-budget 2m"
        k = self.folds.value()
        if k > images:
            return f"{k} folds need at least {k} labelled images; the file has {images}"
        return k, arguments

    @Slot(str)
    def say(self, line: str, error: bool = False) -> None:
        self.status.setText(line)
        self.status.setStyleSheet("color: #c0392b;" if error else "")

    @Slot()
    def _on_start_clicked(self) -> None:
        self.start_requested.emit(self.folds.value(), self.options.text())
