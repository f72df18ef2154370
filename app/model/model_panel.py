"""The model dock: choose and load a checkpoint (project, official .pth, Hugging Face folder or an
official name), the device and input size; the confidence threshold; run on the image on screen;
pre-annotate many images (batch_panel.py). It also answers `mapping_needed` with the dialog."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QMenu,
                               QPushButton, QSizePolicy, QSlider, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from detr_core.checkpoints.hub import OFFICIAL_CHECKPOINTS

from ..steady_label import SteadyLabelWidget
from .batch_panel import BatchPanelWidget
from .class_mapping_dialog import ClassMappingDialog
from .model_notice import ModelNoticeWidget
from .model_state import DEMO_MODEL, DEVICES

CHECKPOINT_FILTER = "Checkpoints (*.pth *.pt *.bin *.safetensors);;All files (*)"
MAX_RECENT = 8
CHECKPOINT_TIP = ("A project or official .pth file, a Hugging Face folder, or an official "
                  f"name ({', '.join(OFFICIAL_CHECKPOINTS)})")


class ModelPanelWidget(QWidget):
    def __init__(self, state, settings=None, parent=None):
        super().__init__(parent)
        self.state, self.model_state, self.settings = state, state.model, settings
        self.dialog: ClassMappingDialog | None = None
        self._syncing = False
        self._setup_checkpoint()
        self._setup_options()
        self.batch = BatchPanelWidget(state)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Checkpoint", self._checkpoint_row)
        device_row = QHBoxLayout()
        device_row.addWidget(self.device, 1)
        device_row.addWidget(self.threads)
        form.addRow("Device", device_row)
        form.addRow("Input size", self.min_size)
        form.addRow("Threshold", self._threshold_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.image_status)
        layout.addWidget(self.notice)
        run = QHBoxLayout()
        run.addWidget(self.auto_run, 1)
        run.addWidget(self.run_button)
        layout.addLayout(run)
        layout.addWidget(self.batch)
        # As tall as its contents: spare height goes to the query list in the Attention dock.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        m = self.model_state
        m.model_changed.connect(self._update_status)
        m.model_changed.connect(lambda info: self._mark_devices(info.available_devices))
        m.loading_changed.connect(self._update_status)
        m.load_failed.connect(self._update_status)
        m.running_changed.connect(self._update_status)
        m.detection_failed.connect(self._update_status)
        m.predictions_changed.connect(lambda row: row == state.current_row and self._update_status())
        m.threshold_changed.connect(self._on_model_threshold_changed)
        m.options_changed.connect(self._sync_from_model)
        m.mapping_needed.connect(self._on_model_mapping_needed)
        state.current_changed.connect(self._update_status)
        self._sync_from_model()

    # -- set-up -------------------------------------------------------------------------------------
    def _setup_checkpoint(self) -> None:
        self.checkpoint = QComboBox()
        self.checkpoint.setEditable(True)
        self.checkpoint.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.checkpoint.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.checkpoint.setMinimumContentsLength(12)  # a long path does not widen the dock
        self.checkpoint.currentTextChanged.connect(self._on_checkpoint_text_changed)
        self.checkpoint.setToolTip(CHECKPOINT_TIP)
        self.checkpoint.lineEdit().returnPressed.connect(self.load_chosen)
        self.checkpoint.activated.connect(self._on_checkpoint_activated)  # choosing from the list loads
        browse = self.browse_button = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose a checkpoint file or a Hugging Face folder")
        menu = QMenu(browse)
        menu.addAction("Checkpoint file (.pth, .safetensors)…", self.browse_file)
        menu.addAction("Hugging Face folder…", self.browse_folder)
        browse.setMenu(menu)
        browse.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        browse.setMinimumWidth(browse.fontMetrics().horizontalAdvance("…") + 26)  # the glyph and the arrow
        self.load_button = QPushButton("Load")  # as narrow as its word: the field gets the width
        self.load_button.setMaximumWidth(self.load_button.fontMetrics().horizontalAdvance("Load") + 24)
        self.load_button.clicked.connect(self.load_chosen)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.checkpoint, 1)
        row.addWidget(browse)
        row.addWidget(self.load_button)
        self._checkpoint_row = row
        self._fill_checkpoints()

    def _setup_options(self) -> None:
        self.device = QComboBox()
        for name in DEVICES:
            self.device.addItem(name.upper() if name != "auto" else "Auto", name)
        self._mark_devices(())
        self.device.currentIndexChanged.connect(self._on_device_changed)
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("All cores")
        self.threads.setSuffix(" threads")
        self.threads.setKeyboardTracking(False)
        self.threads.setToolTip("CPU threads for the model; fewer leave room for the window and other work")
        self.threads.valueChanged.connect(lambda n: self.threads.setSuffix(" thread" if n == 1 else " threads"))
        self.threads.valueChanged.connect(lambda n: self._syncing or self.model_state.set_threads(n))
        self.min_size = QSpinBox()
        self.min_size.setRange(0, 2048)
        self.min_size.setSingleStep(32)
        self.min_size.setSpecialValueText("Model default")
        self.min_size.setSuffix(" px shortest side")
        self.min_size.setKeyboardTracking(False)
        self.min_size.setToolTip("Images are resized to this shortest side (the longest side scales with "
                                 "the model's own ratio). Smaller is faster; 0 = the checkpoint's size.")
        self.min_size.valueChanged.connect(self._on_min_size_changed)
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(1, 100)
        self.threshold.setToolTip("Show predictions scoring at least this (Ctrl+Up / Ctrl+Down)")
        shown = self.model_state.prediction_view
        self.threshold.valueChanged.connect(lambda v: self._syncing or shown.set_threshold(v / 100))
        self.threshold_label = QLabel()
        self.threshold_label.setMinimumWidth(self.threshold_label.fontMetrics().horizontalAdvance("0.00 "))
        self._threshold_row = QHBoxLayout()
        self._threshold_row.addWidget(self.threshold, 1)
        self._threshold_row.addWidget(self.threshold_label)
        self.status = QLabel()  # the model: changes when one loads
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.image_status = SteadyLabelWidget()  # the image on screen: changes with every image,
        # and a QLabel's new text would lay the whole dock out again each time
        self.notice = ModelNoticeWidget(self.state)
        self.notice.official_requested.connect(self._on_notice_official_requested)
        self.notice.browse_requested.connect(self.browse_file)
        self.auto_run = QCheckBox("Detect on every image shown")
        self.auto_run.toggled.connect(lambda on: self._syncing or self.model_state.set_auto_run(on))
        self.run_button = QPushButton("Detect")
        self.run_button.setToolTip("Run the model on this image now (F5)")
        self.run_button.clicked.connect(lambda: self.model_state.request_current(force=True))

    def _mark_devices(self, present: tuple[str, ...]) -> None:
        """Which devices exist is known once torch is loaded, on the detector thread, with the
        first model (ModelInfo.available_devices): until then only Auto and CPU are offered."""
        model = self.device.model()
        for index, name in enumerate(DEVICES):
            item = model.item(index) if isinstance(model, QStandardItemModel) else None
            if name == "auto":
                self.device.setItemText(index, f"Auto ({present[0]})" if present else "Auto")
            elif name != "cpu" and item is not None:
                usable = any(p.startswith(name) for p in present)
                item.setEnabled(usable)
                item.setToolTip("" if usable else "Not available on this machine" if present
                                else "Known once the model has loaded")

    def _fill_checkpoints(self) -> None:
        self.checkpoint.clear()
        if DEMO_MODEL.is_file():
            self.checkpoint.addItem("Demo model (bundled)", str(DEMO_MODEL))
        for name in OFFICIAL_CHECKPOINTS:
            self.checkpoint.addItem(f"{name} (official, COCO)", name)
        for path in self._recent():
            if self.checkpoint.findData(path) < 0:
                self.checkpoint.addItem(path, path)

    def _recent(self) -> list[str]:
        value = self.settings.value("model/recent", []) if self.settings is not None else []
        return [str(v) for v in (value if isinstance(value, list) else [value]) if v]

    def _remember_recent(self, source: str) -> None:
        if self.settings is None or source in OFFICIAL_CHECKPOINTS or source == str(DEMO_MODEL):
            return
        self.settings.setValue("model/recent", [source] + [p for p in self._recent() if p != source][:MAX_RECENT - 1])

    # -- choosing and loading ------------------------------------------------------------------------
    def chosen_source(self) -> str:
        text = self.checkpoint.currentText().strip()
        index = self.checkpoint.findText(text)
        return self.checkpoint.itemData(index) if index >= 0 else text

    def set_source(self, source: str) -> None:
        index = self.checkpoint.findData(source)
        if index < 0:
            self.checkpoint.addItem(source, source)
            index = self.checkpoint.count() - 1
        self.checkpoint.setCurrentIndex(index)

    def load_chosen(self) -> None:
        source = self.chosen_source()
        self._remember_recent(source)
        self.model_state.load(source)

    def browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", str(Path.home()), CHECKPOINT_FILTER)
        if path:
            self.set_source(path)
            self.load_chosen()

    def browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open Hugging Face model folder", str(Path.home()))
        if path:
            self.set_source(path)
            self.load_chosen()

    @Slot(int)
    def _on_checkpoint_activated(self, index: int) -> None:
        info = self.model_state.info
        if info is None or self.checkpoint.itemData(index) != info.source or self.model_state.error:
            self.load_chosen()

    @Slot(str)
    def _on_checkpoint_text_changed(self, text: str) -> None:
        self.checkpoint.setToolTip(text or CHECKPOINT_TIP)  # the whole path, where the field shows part

    @Slot(str)
    def _on_notice_official_requested(self, name: str) -> None:
        self.set_source(name)
        self.load_chosen()

    @Slot(int)
    def _on_device_changed(self, index: int) -> None:
        if not self._syncing:
            self.model_state.set_device(self.device.itemData(index))

    @Slot(int)
    def _on_min_size_changed(self, value: int) -> None:
        if not self._syncing:
            self.model_state.set_min_size(value if value >= 32 else None)

    # -- model -> panel ---------------------------------------------------------------------------------
    @Slot()
    def _sync_from_model(self) -> None:
        m = self.model_state
        self._syncing = True
        self.device.setCurrentIndex(max(self.device.findData(m.device), 0))
        self.min_size.setValue(m.min_size or 0)
        self.threads.setValue(m.threads)
        self.auto_run.setChecked(m.auto_run)
        self._syncing = False
        self._on_model_threshold_changed(m.prediction_view.threshold)
        self._update_status()

    @Slot(float)
    def _on_model_threshold_changed(self, threshold: float) -> None:
        self._syncing = True
        self.threshold.setValue(round(threshold * 100))
        self._syncing = False
        self.threshold_label.setText(f"{threshold:.2f}")
        self._update_status()  # the count "at or above" it

    @Slot()
    def _update_status(self, *_args) -> None:
        m = self.model_state
        lines, image_line = [], ""
        if m.info is None:
            lines.append("No model loaded." if not m.loading else "Loading the model…")
        else:
            threads = f", {m.info.threads} thread{'s' if m.info.threads != 1 else ''}" if m.info.device == "cpu" else ""
            lines.append(f"{m.info.description} — on {m.info.device}{threads}")
            if m.loading:
                lines.append("Loading another model…")
            elif m.running:
                image_line = "Detecting…"
            elif m.state.current_entry() is not None:
                shown = m.prediction_count(m.state.current_row)
                if shown is not None:
                    seconds = m.seconds_for(m.state.current_row)
                    took = f" · {seconds:.2f} s" if seconds is not None else ""
                    image_line = (f"{shown} prediction{'s' if shown != 1 else ''} at or above "
                                  f"{m.prediction_view.threshold:.2f}{took}")
        self.status.setText("\n".join(lines))  # a load failure is in `notice`, in red, whole
        self.image_status.setText(image_line)
        if m.info is not None and not m.loading:
            self._syncing = True
            self.set_source(m.info.source)
            self._syncing = False

    # -- class mapping --------------------------------------------------------------------------------
    @Slot(list)
    def _on_model_mapping_needed(self, names: list[str]) -> None:
        self.open_mapping_dialog(names, retry=True)

    def edit_class_mapping(self) -> None:
        info = self.model_state.info
        if info is None:
            self.state.message.emit("Load a model first.")
            return
        names = sorted({n for n in info.class_names if n != "N/A"})
        self.open_mapping_dialog(names, retry=False)

    def open_mapping_dialog(self, names: list[str], retry: bool) -> ClassMappingDialog:
        if self.dialog is not None:
            self.dialog.close()
        info = self.model_state.info
        self.dialog = ClassMappingDialog(names, self.state.categories(), self.model_state.acceptor.class_choices(),
                                         Path(info.source).name if info else "", self.window())
        dialog = self.dialog
        dialog.accepted.connect(lambda: self.model_state.acceptor.set_class_choices(dialog.choices(), retry=retry))
        dialog.rejected.connect(self.model_state.acceptor.drop_pending_accept)
        dialog.open()
        return dialog
