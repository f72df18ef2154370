"""The attention dock: how the heatmap is drawn (on/off, query or point mode, colormap, opacity,
smoothing) above the list of every query of the image on screen."""
from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QPalette
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QRadioButton,
                               QSlider, QToolButton, QVBoxLayout, QWidget)

from ..steady_label import SteadyLabelWidget
from .heatmap_image import COLORMAPS
from .query_list import QueryListWidget


class AttentionPanelWidget(QWidget):
    def __init__(self, state, tool_actions: list[QAction] = (), parent=None):
        super().__init__(parent)
        self.state, self.model_state = state, state.model
        self._syncing = False
        self.show_heatmap = QCheckBox("Show attention")
        self.show_heatmap.setToolTip("Draw the selected query's attention over the image (M)")
        self.decoder_mode = QRadioButton("Query")
        self.decoder_mode.setToolTip("Where the selected object query looks: last decoder layer's "
                                     "cross-attention, mean over heads")
        self.encoder_mode = QRadioButton("Point")
        self.encoder_mode.setToolTip("Click the image: where that location looks, in the last encoder "
                                     "layer's self-attention (E)")
        modes = QButtonGroup(self)
        modes.addButton(self.decoder_mode)
        modes.addButton(self.encoder_mode)
        self.colormap = QComboBox()
        self.colormap.addItems(COLORMAPS)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setToolTip("Heatmap opacity")
        self.smooth = QCheckBox("Smooth")
        self.smooth.setToolTip("Blend between feature cells (off: one flat colour per cell)")
        self.hint = SteadyLabelWidget(lines=2, role=QPalette.ColorRole.Mid)  # changes with every image:
        # a QLabel would resize the query table below it each time
        self.queries = QueryListWidget(state)
        self._layout(tool_actions)
        self.show_heatmap.toggled.connect(lambda on: self._set(visible=on))
        self.encoder_mode.toggled.connect(lambda on: self._set(mode="encoder" if on else "decoder"))
        self.colormap.currentTextChanged.connect(lambda name: self._set(colormap=name))
        self.opacity.valueChanged.connect(lambda v: self._set(opacity=v / 100))
        self.smooth.toggled.connect(lambda on: self._set(smooth=on))
        self.model_state.view_changed.connect(self._on_model_view_changed)
        self.model_state.query_changed.connect(lambda _q: self._update_hint())
        self.model_state.predictions_changed.connect(
            lambda row: row in (-1, state.current_row) and self._update_hint())
        self._on_model_view_changed()

    def _layout(self, tool_actions) -> None:
        top = QHBoxLayout()
        top.addWidget(self.show_heatmap)
        top.addStretch(1)
        top.addWidget(self.decoder_mode)
        top.addWidget(self.encoder_mode)
        look = QHBoxLayout()
        look.addWidget(self.colormap)
        look.addWidget(self.opacity, 1)
        look.addWidget(self.smooth)
        buttons = QHBoxLayout()
        for action in tool_actions:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            buttons.addWidget(button)
        buttons.addStretch(1)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(top)
        form.addRow(look)
        form.addRow(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addWidget(self.queries, 1)

    def _set(self, **changes) -> None:
        if not self._syncing:
            self.model_state.prediction_view.set_view(**changes)

    @Slot()
    def _on_model_view_changed(self) -> None:
        view = self.model_state.prediction_view.view
        self._syncing = True
        self.show_heatmap.setChecked(view.visible)
        (self.encoder_mode if view.mode == "encoder" else self.decoder_mode).setChecked(True)
        self.colormap.setCurrentText(view.colormap)
        self.opacity.setValue(round(view.opacity * 100))
        self.smooth.setChecked(view.smooth)
        self._syncing = False
        self._update_hint()

    def _update_hint(self) -> None:
        m = self.model_state
        detections = m.current_detections()
        if m.info is None:
            text = "No model loaded."
        elif detections is None:
            text = "The model has not seen this image yet."
        elif detections.attention is None:
            text = "Attention is computed when the image is shown; one moment…"
        elif m.prediction_view.view.mode == "encoder":
            text = "Click the image: the map shows where that point attends (encoder self-attention)."
        elif m.prediction_view.selected_query < 0:
            text = "Pick a query below or click a prediction ( ] / [ step through them)."
        else:
            text = ""
        self.hint.setText(text)
