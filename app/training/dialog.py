"""The fine-tune dialog: what data goes in (the current annotations, optionally reviewed images
only; a seeded split or a separate validation file), the starting model (the loaded one by
default, or a preset from scratch), the training options, and the run folder. It shows how many
images and boxes per class go in and refuses an unusable set with the reason."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ..user_data import runs_dir
from .command import CONFIGS, DEVICES, RESOLUTIONS, TrainOptions, cuda_device_count
from .snapshot import DataChoice, DataPlan, plan_data
from .training_state import run_folder_problem

_VALIDATIONS = (("split", "Split off part of these images"), ("file", "A separate COCO file"),
                ("none", "None (no mAP)"))


def _row(*widgets) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w, 1 if isinstance(w, QLineEdit) else 0)
    return box


def _button(text: str, slot) -> QPushButton:
    button = QPushButton(text)
    button.clicked.connect(slot)
    return button


def default_run_dir(doc) -> Path:
    """A new folder in the per-user runs folder (app/user_data.py), never in the document's."""
    stem = doc.path.stem if doc.path is not None else "annotations"
    return runs_dir() / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


class FineTuneDialog(QDialog):
    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Fine-tune on these annotations")
        self.state, self.training = state, state.training
        self.plan: DataPlan | None = None
        self._timer = QTimer(self)  # re-plans the data shortly after the last change
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.refresh)
        self._setup_data()
        self._setup_model()
        self._setup_training()
        if self.from_scratch.isChecked():
            self._on_from_scratch_toggled(True)
        self.run_dir = QLineEdit(str(default_run_dir(state.document)) if state.document is not None else "")
        self.run_dir.textChanged.connect(self._schedule_refresh)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton("Start Fine-tuning", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for group in (self.data_group, self.model_group, self.training_group):
            layout.addWidget(group)
        layout.addWidget(QLabel(f"Run folder (by default in your data folder: {runs_dir()})"))
        layout.addWidget(_row(self.run_dir, _button("…", self._browse_run_dir)))
        layout.addWidget(self.problems)
        layout.addWidget(self.buttons)
        self.training.start_failed.connect(self._on_training_start_failed)
        self.refresh()

    # -- set-up -----------------------------------------------------------------------------------
    def _setup_data(self) -> None:
        self.reviewed_only = QCheckBox("Reviewed images only")
        self.validation = QComboBox()
        for key, text in _VALIDATIONS:
            self.validation.addItem(text, key)
        self.val_fraction = QSpinBox()
        self.val_fraction.setRange(5, 50)
        self.val_fraction.setValue(20)
        self.val_fraction.setSuffix(" % for validation")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(42)
        self.seed.setToolTip("The same seed gives the same split (and the same training order)")
        self.val_json = QLineEdit()
        self.val_json.setPlaceholderText("validation COCO JSON")
        self.val_images = QLineEdit()
        self.val_images.setPlaceholderText("its image folder (default: found next to it)")
        self.summary = QLabel()
        self.classes = QTableWidget(0, 3)
        self.classes.setHorizontalHeaderLabels(["Class", "Train boxes", "Val boxes"])
        self.classes.verticalHeader().hide()
        self.classes.verticalHeader().setDefaultSectionSize(20)
        self.classes.setMaximumHeight(140)
        for w in (self.reviewed_only,):
            w.toggled.connect(self._schedule_refresh)
        self.validation.currentIndexChanged.connect(self._schedule_refresh)
        for w in (self.val_fraction, self.seed):
            w.valueChanged.connect(self._schedule_refresh)
        for w in (self.val_json, self.val_images):
            w.textChanged.connect(self._schedule_refresh)
        self.data_group = QGroupBox("Data: the current annotations (a snapshot is taken at start)")
        form = QFormLayout(self.data_group)
        form.addRow(self.reviewed_only)
        form.addRow("Validation", self.validation)
        form.addRow("Split", _row(self.val_fraction, QLabel("seed"), self.seed))
        form.addRow("File", _row(self.val_json, _button("…", self._browse_val_json)))
        form.addRow("Images", _row(self.val_images, _button("…", self._browse_val_images)))
        form.addRow(self.summary)
        form.addRow(self.classes)

    def _setup_model(self) -> None:
        info = self.state.model.info
        self.checkpoint = QLineEdit(info.source if info is not None else "")
        self.checkpoint.setPlaceholderText("checkpoint file, Hugging Face folder or detr-r50 …")
        self.from_scratch = QCheckBox("From scratch, config")
        self.from_scratch.setChecked(info is None)
        self.config = QComboBox()
        self.config.addItems(CONFIGS)
        self.config.setCurrentText("small")
        self.from_scratch.toggled.connect(self._schedule_refresh)
        self.from_scratch.toggled.connect(self._on_from_scratch_toggled)
        self.checkpoint.textChanged.connect(self._schedule_refresh)
        self.model_group = QGroupBox("Model")
        form = QFormLayout(self.model_group)
        form.addRow("Start from", _row(self.checkpoint, _button("…", self._browse_checkpoint)))
        form.addRow(_row(self.from_scratch, self.config))

    def _setup_training(self) -> None:
        d = TrainOptions()
        self.timed = QCheckBox("Train for")
        self.timed.setChecked(True)
        self.timed.setToolTip("The automatic small-data recipe (batch size, learning rates, query groups, "
                              "EMA) fitted into this time; it ends on time with its best model")
        self.minutes = QSpinBox()
        self.minutes.setRange(1, 24 * 60)
        self.minutes.setValue(10)
        self.minutes.setSuffix(" minutes")
        self.timed.toggled.connect(self._on_timed_toggled)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10_000)
        self.epochs.setValue(d.epochs)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 512)
        self.batch_size.setValue(d.batch_size)
        self.lr, self.lr_backbone = QLineEdit(f"{d.lr:g}"), QLineEdit(f"{d.lr_backbone:g}")
        self.lr_backbone.setToolTip("Learning rate of the ResNet backbone (0 with frozen backbone)")
        self.resolution = QComboBox()
        self.resolution.addItems(RESOLUTIONS)
        self.resolution.setToolTip("Training image size (shorter side); auto: the model's own")
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.workers = QSpinBox()
        self.workers.setRange(0, 32)
        self.workers.setValue(2)
        self.workers.setToolTip("Data-loader processes (0: load images in the training process)")
        self.freeze_backbone = QCheckBox("Freeze backbone")
        gpus = cuda_device_count()
        self.gpus = gpus
        self.torchrun = QCheckBox(f"Use all {gpus} GPUs (torchrun)" if gpus > 1 else "torchrun (needs 2+ GPUs)")
        self.torchrun.setEnabled(gpus > 1)
        for w in (self.lr, self.lr_backbone):
            w.textChanged.connect(self._schedule_refresh)
        self.training_group = QGroupBox("Training")
        form = QFormLayout(self.training_group)
        self.recipe_note = QLabel("or set epochs, batch size and learning rates yourself:")
        form.addRow("Length", _row(self.timed, self.minutes, self.recipe_note))
        form.addRow("Epochs", _row(self.epochs, QLabel("batch size"), self.batch_size))
        form.addRow("Learning rate", _row(self.lr, QLabel("backbone"), self.lr_backbone))
        form.addRow("Resolution", _row(self.resolution, QLabel("device"), self.device, QLabel("workers"), self.workers))
        form.addRow(_row(self.freeze_backbone, self.torchrun))
        self._on_timed_toggled(self.timed.isChecked())

    @Slot(bool)
    def _on_timed_toggled(self, on: bool) -> None:
        """Timed: the recipe chooses epochs, batch size and learning rates (the fields grey out)."""
        self.minutes.setEnabled(on)
        for w in (self.epochs, self.batch_size, self.lr, self.lr_backbone):
            w.setEnabled(not on)
        self.recipe_note.setText("the automatic recipe chooses the rest (printed at start)" if on
                                 else "epochs, batch size and learning rates as set below")

    # -- reading the form ---------------------------------------------------------------------------
    def choice(self) -> DataChoice:
        val_json, val_images = self.val_json.text().strip(), self.val_images.text().strip()
        return DataChoice(reviewed_only=self.reviewed_only.isChecked(), validation=self.validation.currentData(),
                          val_fraction=self.val_fraction.value() / 100, seed=self.seed.value(),
                          val_json=Path(val_json) if val_json else None,
                          val_images=Path(val_images) if val_images else None)

    def options(self) -> TrainOptions:
        """Raises ValueError for a learning rate that is not a positive number."""
        lr, lr_backbone = float(self.lr.text()), float(self.lr_backbone.text())
        if not lr > 0 or not lr_backbone >= 0:
            raise ValueError("learning rates must be positive numbers")
        scratch = self.from_scratch.isChecked()
        return TrainOptions(epochs=self.epochs.value(), batch_size=self.batch_size.value(), lr=lr,
                            lr_backbone=lr_backbone, resolution=self.resolution.currentText(),
                            device=self.device.currentText(),
                            checkpoint=None if scratch else self.checkpoint.text().strip() or None,
                            config=self.config.currentText(), freeze_backbone=self.freeze_backbone.isChecked(),
                            seed=self.seed.value(), workers=self.workers.value(),
                            gpus=self.gpus if self.torchrun.isChecked() else 1,
                            minutes=self.minutes.value() if self.timed.isChecked() else None)

    @Slot()
    def _schedule_refresh(self, *_args) -> None:
        self._timer.start()

    @Slot()
    def refresh(self) -> None:
        """Plan the data again and say what goes in and what stops the job."""
        doc = self.state.document
        choice = self.choice()
        self.val_fraction.setEnabled(choice.validation == "split")
        for w in (self.val_json, self.val_images):
            w.setEnabled(choice.validation == "file")
        self.checkpoint.setEnabled(not self.from_scratch.isChecked())
        self.config.setEnabled(self.from_scratch.isChecked())
        self.plan = plan_data(doc.data, doc.image_root, choice) if doc is not None else None
        problems = list(self.plan.problems) if self.plan is not None else ["Open annotations first."]
        warnings = list(self.plan.warnings) if self.plan is not None else []
        try:
            self.options()
        except ValueError as e:
            problems.append(f"Learning rate: {e}.")
        if not self.from_scratch.isChecked() and not self.checkpoint.text().strip():
            problems.append("Choose the checkpoint to start from, or train from scratch.")
        run_dir = self.run_dir.text().strip()
        folder_problem = run_folder_problem(Path(run_dir)) if run_dir else "Choose a run folder."
        problems += [folder_problem] if folder_problem else []
        self._show_plan(problems, warnings)

    def _show_plan(self, problems: list[str], warnings: list[str]) -> None:
        plan = self.plan
        self.summary.setText(plan.summary() if plan is not None else "")
        rows = plan.classes if plan is not None else []
        self.classes.setRowCount(len(rows))
        for r, c in enumerate(rows):
            for col, text in enumerate((c.name, str(c.train_boxes), str(c.val_boxes))):
                self.classes.setItem(r, col, QTableWidgetItem(text))
        self.classes.resizeColumnsToContents()
        lines = [f"<span style='color:#b00020'>✖ {p}</span>" for p in problems]
        lines += [f"<span style='color:#8a6d00'>⚠ {w}</span>" for w in warnings]
        self.problems.setText("<br>".join(lines))
        self.start_button.setEnabled(not problems)
        self.start_button.setToolTip(problems[0] if problems else "")

    @Slot(bool)
    def _on_from_scratch_toggled(self, on: bool) -> None:
        """From scratch the backbone learns at the main rate (the train command's default too)."""
        self.lr_backbone.setText(self.lr.text() if on else f"{TrainOptions().lr_backbone:g}")

    # -- actions ------------------------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
        self._timer.stop()
        self.refresh()
        if not self.start_button.isEnabled():
            return
        if self.training.start(Path(self.run_dir.text().strip()), self.options(), self.choice()):
            self.accept()

    @Slot(str)
    def _on_training_start_failed(self, message: str) -> None:
        if self.isVisible():
            self.problems.setText(f"<span style='color:#b00020'>✖ {message}</span>")

    def _browse_run_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Run folder (a new run goes into a new subfolder)")
        if folder:
            self.run_dir.setText(str(Path(folder) / f"run-{time.strftime('%Y%m%d-%H%M%S')}"))

    def _browse_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Starting checkpoint", "",
                                              "Checkpoints (*.pth *.pt *.bin *.safetensors);;All files (*)")
        if path:
            self.checkpoint.setText(path)
            self.from_scratch.setChecked(False)

    def _browse_val_json(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Validation COCO file", "", "COCO JSON (*.json);;All files (*)")
        if path:
            self.val_json.setText(path)
            self.validation.setCurrentIndex(1)

    def _browse_val_images(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Validation image folder")
        if folder:
            self.val_images.setText(folder)
