"""The fine-tune dialog: what data goes in (the current annotations, optionally reviewed images
only; a seeded split or a separate validation file), the starting model (the loaded one by
default, or a preset from scratch), the training options, and the run folder. It shows how many
images and boxes per class go in and refuses an unusable set with the reason; with "Train for N
minutes" it shows the automatic recipe the run will choose, and the expected time in either mode.

Start never skips the preflight (preflight_check.py, on the snapshot the run would use, in a child
process; its lines: preflight_view.py). No errors: the run starts. Errors, or a check that failed:
Start becomes "Start anyway", and only that second press starts the run. A result stands for its
form: changed data, annotations, model or resolution make Start check again. The train command is
not given --preflight: the dialog ran it, and asked."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QGroupBox, QLabel, QLineEdit, QSpinBox, QTableWidget, QTableWidgetItem,
                               QVBoxLayout)

from ..user_data import runs_dir
from .command import CONFIGS, DEVICES, RESOLUTIONS, TrainOptions, cuda_device_count
from .expectation import StepTime
from .expectation_view import ExpectationView
from .form_rows import button, columns, row
from .preflight_check import PreflightCheck, PreflightResult
from .preflight_view import PreflightView
from .snapshot import DataChoice, DataPlan, plan_data
from .training_state import run_folder_problem

START, START_ANYWAY = "Start Fine-tuning", "Start anyway"
_VALIDATIONS = (("split", "Split off part of these images"), ("file", "A separate COCO file"),
                ("none", "None (no mAP)"))


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
        self._edits, self._start_after_check = 0, False  # _edits: document edits (they void a preflight)
        self._step_time: tuple[object, StepTime] | None = None  # (model part of the key, its measure)
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
        self.preflight = PreflightCheck(self)
        self.preflight_view = PreflightView()
        self.preflight.started.connect(self._on_preflight_started)
        self.preflight.finished.connect(self._on_preflight_finished)
        self.preflight_view.cancel_requested.connect(self.preflight.cancel)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.check_button = self.buttons.addButton("Check data", QDialogButtonBox.ButtonRole.ActionRole)
        self.check_button.setToolTip("Run the preflight now (Start runs it too, unless it ran on this form)")
        self.check_button.clicked.connect(self.check_data)
        self.start_button = self.buttons.addButton(START, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)  # two columns: the dialog fits a 1366x768 screen
        layout.addLayout(columns((self.data_group, f"Run folder (by default in your data folder: {runs_dir()})",
                                  row(self.run_dir, button("…", self._browse_run_dir))),
                                 (self.model_group, self.training_group)))
        layout.addWidget(self.problems)
        layout.addWidget(self.preflight_view)
        layout.addWidget(self.buttons)
        self.training.start_failed.connect(self._on_training_start_failed)
        for signal in (state.annotations_changed, state.categories_changed, state.image_changed,
                       state.document_opened):
            signal.connect(self._on_document_edited)
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
        form.addRow("Split", row(self.val_fraction, QLabel("seed"), self.seed))
        form.addRow("File", row(self.val_json, button("…", self._browse_val_json)))
        form.addRow("Images", row(self.val_images, button("…", self._browse_val_images)))
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
        form.addRow("Start from", row(self.checkpoint, button("…", self._browse_checkpoint)))
        form.addRow(row(self.from_scratch, self.config))

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
        self.overfit = QCheckBox("and a one-batch overfit (~40 steps; it times a step)")
        self.overfit.setChecked(True)
        self.expectation = ExpectationView()
        self.recipe, self.expected = self.expectation.recipe, self.expectation.expected
        for w in (self.lr, self.lr_backbone):
            w.textChanged.connect(self._schedule_refresh)
        for w in (self.timed, self.overfit, self.freeze_backbone, self.torchrun):
            w.toggled.connect(self._schedule_refresh)
        for w in (self.minutes, self.epochs, self.batch_size, self.workers):
            w.valueChanged.connect(self._schedule_refresh)
        for w in (self.resolution, self.device):
            w.currentIndexChanged.connect(self._schedule_refresh)
        self.training_group = QGroupBox("Training")
        form = QFormLayout(self.training_group)
        self.recipe_note = QLabel("or set epochs, batch size and learning rates yourself:")
        form.addRow("Length", row(self.timed, self.minutes, self.recipe_note))
        form.addRow("Epochs", row(self.epochs, QLabel("batch size"), self.batch_size))
        form.addRow("Learning rate", row(self.lr, QLabel("backbone"), self.lr_backbone))
        form.addRow("Resolution", row(self.resolution, QLabel("device"), self.device, QLabel("workers"), self.workers))
        form.addRow(row(self.freeze_backbone, self.torchrun))
        form.addRow("Recipe", self.recipe)
        form.addRow("Expected", self.expected)
        form.addRow("Before start", row(QLabel("data checks,"), self.overfit))
        self._on_timed_toggled(self.timed.isChecked())

    @Slot(bool)
    def _on_timed_toggled(self, on: bool) -> None:
        """Timed: the recipe chooses epochs, batch size and learning rates (the fields grey out)."""
        self.minutes.setEnabled(on)
        for w in (self.epochs, self.batch_size, self.lr, self.lr_backbone, self.workers):
            w.setEnabled(not on)
        self.recipe_note.setText("the automatic recipe chooses the rest (below)" if on
                                 else "epochs, batch size and learning rates as set below")
        self.training_group.layout().setRowVisible(self.recipe, on)

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
                            seed=self.seed.value(), workers=None if self.timed.isChecked() else self.workers.value(),
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
        options = None
        try:
            options = self.options()
        except ValueError as e:
            problems.append(f"Learning rate: {e}.")
        if not self.from_scratch.isChecked() and not self.checkpoint.text().strip():
            problems.append("Choose the checkpoint to start from, or train from scratch.")
        run_dir = self.run_dir.text().strip()
        folder_problem = run_folder_problem(Path(run_dir)) if run_dir else "Choose a run folder."
        problems += [folder_problem] if folder_problem else []
        self._show_plan(problems, warnings)
        self._show_expectations(options)
        self._show_preflight_state(problems)

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

    def form_key(self) -> tuple:
        """What a preflight result stands for: (the data, the model and its resolution)."""
        scratch = self.from_scratch.isChecked()
        model = (None if scratch else self.checkpoint.text().strip(), self.config.currentText() if scratch else None,
                 self.resolution.currentText())
        return (self.choice(), id(self.state.document), self._edits, self.overfit.isChecked()), model

    def _show_expectations(self, options: TrainOptions | None) -> None:
        """The recipe the run will choose (timed) and how long it should take."""
        if options is None or self.plan is None or not self.plan.train_ids:
            return self.expectation.clear()
        info = self.state.model.info  # the loaded model's classes and backbone, if it is the one to start from
        known = info is not None and info.source == options.checkpoint
        names, backbone = (info.class_names, info.backbone or None) if known else (None, None)
        step = self._step_time[1] if self._step_time is not None and self._step_time[0] == self.form_key()[1] else None
        on_gpu = options.device.startswith("cuda") or (options.device == "auto" and self.gpus > 0)
        self.expectation.show(self.plan, options, names, step, on_gpu, backbone)

    def _show_preflight_state(self, problems: list[str]) -> None:
        checking = self.preflight.is_running()
        result = self.preflight.result_for(self.form_key())
        shown = self.preflight_view.shown
        if not checking and result is not None and shown is not result:
            self.preflight_view.show_result(result)  # the form is back to the one checked
        elif not checking and result is None and shown is not None and shown.status != "cancelled":
            self.preflight_view.show_stale()  # the form changed since the check
        anyway = result is not None and result.status in ("errors", "failed")
        self.start_button.setText(START_ANYWAY if anyway else START)
        self.start_button.setEnabled(not problems and not checking)
        self.check_button.setEnabled(not problems and not checking)
        self.start_button.setToolTip(problems[0] if problems else "Checking the data…" if checking else
                                     "The preflight found errors: start anyway" if anyway else "")

    @Slot(bool)
    def _on_from_scratch_toggled(self, on: bool) -> None:
        """From scratch the backbone learns at the main rate (the train command's default too)."""
        self.lr_backbone.setText(self.lr.text() if on else f"{TrainOptions().lr_backbone:g}")

    # -- actions ------------------------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
        """Check first (the preflight), unless it ran on this very form; then start the run."""
        self._timer.stop()
        self.refresh()
        if not self.start_button.isEnabled():
            return
        if self.preflight.result_for(self.form_key()) is None:
            self._check(then_start=True)
            return
        self._launch()

    @Slot()
    def check_data(self) -> None:
        self._timer.stop()
        self.refresh()
        if self.check_button.isEnabled():
            self._check(then_start=False)

    def _check(self, then_start: bool) -> None:
        doc = self.state.document
        self._start_after_check = then_start
        self.preflight.start(self.form_key(), doc.to_json(), doc.image_root, self.choice(), self.options(),
                             overfit=self.overfit.isChecked())

    def _launch(self) -> None:
        if self.training.start(Path(self.run_dir.text().strip()), self.options(), self.choice()):
            self.accept()

    @Slot()
    def _on_preflight_started(self) -> None:
        self.preflight_view.show_running()
        self.refresh()

    @Slot(object)
    def _on_preflight_finished(self, result: PreflightResult) -> None:
        self.preflight_view.show_result(result)
        step = StepTime.of(result.measured)
        if step is not None:
            self._step_time = (result.key[1], step)
        self.refresh()
        if result.status == "passed" and self._start_after_check and result.key == self.form_key():
            self._launch()

    @Slot()
    def _on_document_edited(self, *_args) -> None:
        self._edits += 1
        self._schedule_refresh()

    def done(self, code: int) -> None:
        self.preflight.shutdown()  # a check still running is killed: nothing outlives the dialog
        super().done(code)

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
