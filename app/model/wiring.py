"""Puts the model side into the window through its seams: the Model, Attention and Attention Grid
docks, the prediction and heatmap layers of the canvas, the Model menu and its keys (from the
window's action table, so the F1 sheet lists them), and saving the decisions on predictions with
the document (the session's `saved`). MainWindow calls `install_model_ui` once."""
from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from .attention_grid import AttentionGridWidget
from .attention_panel import AttentionPanelWidget
from .decision_journal import DecisionJournal
from .export_view import export_view
from .heatmap_layer import HeatmapLayer
from .importing import install_import_action
from .model_panel import ModelPanelWidget
from .prediction_layer import PredictionLayer

THRESHOLD_STEP = 0.05
_MENU = ("run_model", None, "accept_prediction", "accept_all", "reject_prediction", "next_query",
         "previous_query", None, "raise_threshold", "lower_threshold", "toggle_predictions", None,
         "toggle_heatmap", "encoder_mode", "attention_grid", "export_view", None, "preannotate",
         "cancel_preannotate", "class_mapping")
# Enter must stay with text fields and the class list: these keys work only where the focus is
# on the canvas or the query list (Qt.WidgetShortcut), not anywhere in the window.
_FOCUS_KEYS = ("accept_prediction", "accept_all")


class ModelUi(NamedTuple):
    panel: ModelPanelWidget
    attention: AttentionPanelWidget
    grid: AttentionGridWidget
    predictions: PredictionLayer
    heatmap: HeatmapLayer
    model_dock: QDockWidget
    attention_dock: QDockWidget
    grid_dock: QDockWidget


def install_model_ui(window, autoload: bool = True) -> ModelUi:
    state, canvas, a = window.state, window.canvas, window.actions
    model = state.model
    shown, acceptor = model.prediction_view, model.acceptor
    panel = ModelPanelWidget(state, window.settings)
    attention = AttentionPanelWidget(state, [a["export_view"], a["attention_grid"]])
    grid = AttentionGridWidget(state)
    right = Qt.DockWidgetArea.RightDockWidgetArea
    ui = ModelUi(panel, attention, grid, PredictionLayer(state, canvas, window), HeatmapLayer(state, canvas, window),
                 window.add_dock(panel, "Model", right, "model"),
                 window.add_dock(attention, "Attention", right, "attention"),
                 window.add_dock(grid, "Attention Grid", Qt.DockWidgetArea.BottomDockWidgetArea, "attention-grid"))
    ui.grid_dock.hide()  # until asked for (G); the saved layout may show it again
    handlers = {
        "run_model": lambda: model.request_current(force=True),
        "accept_prediction": acceptor.accept_selected, "accept_all": acceptor.accept_all,
        "reject_prediction": acceptor.reject_selected,
        "next_query": lambda: shown.step_query(1), "previous_query": lambda: shown.step_query(-1),
        "raise_threshold": lambda: shown.set_threshold(round(shown.threshold + THRESHOLD_STEP, 2)),
        "lower_threshold": lambda: shown.set_threshold(round(shown.threshold - THRESHOLD_STEP, 2)),
        "toggle_predictions": lambda hidden: shown.set_predictions_visible(not hidden),
        "toggle_heatmap": lambda hidden: shown.set_view(visible=not hidden),
        "encoder_mode": lambda on: shown.set_view(mode="encoder" if on else "decoder"),
        "attention_grid": lambda on: _show_dock(window, ui.grid_dock, on),
        "preannotate": panel.batch.start, "cancel_preannotate": model.batch_runner.cancel,
        "export_view": lambda: export_view(window, canvas, state),
        "class_mapping": panel.edit_class_mapping,
    }
    for name, handler in handlers.items():
        a[name].triggered.connect(handler)
    for name in _FOCUS_KEYS:
        a[name].setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        canvas.addAction(a[name])
        attention.queries.view.addAction(a[name])
    menu = window.menu("&Model")
    for name in _MENU:
        menu.addSeparator() if name is None else menu.addAction(a[name])

    def sync_checks() -> None:
        a["toggle_predictions"].setChecked(not shown.predictions_visible)
        a["toggle_heatmap"].setChecked(not shown.view.visible)
        a["encoder_mode"].setChecked(shown.view.mode == "encoder")

    model.view_changed.connect(sync_checks)
    ui.grid_dock.visibilityChanged.connect(a["attention_grid"].setChecked)
    ui.attention_dock.visibilityChanged.connect(attention.queries.set_shown)  # filled when it can be seen
    model.batch_progressed.connect(lambda _p: a["cancel_preannotate"].setEnabled(True))
    model.batch_finished.connect(lambda _s: a["cancel_preannotate"].setEnabled(False))
    a["cancel_preannotate"].setEnabled(False)
    window.session.saved.connect(model.save_decisions)  # the accept / reject decisions go beside it
    session = window.session  # between saves they are kept in its edit journal
    model.journaling = DecisionJournal(model.decisions, session.journal, lambda: session.target,
                                       lambda: _recovered_extras(session))
    install_import_action(window)  # File > Import Predictions...
    sync_checks()
    model.use_settings(window.settings, autoload=autoload)
    return ui


def _recovered_extras(session):
    opened = session.opened_result
    return opened.recovered_extras if opened is not None else None


GRID_HEIGHT = 340  # room for a map above its picture


def _show_dock(window, dock: QDockWidget, on: bool) -> None:
    dock.setVisible(on)
    if on:
        dock.raise_()
        if not dock.isFloating() and dock.height() < GRID_HEIGHT // 2:
            window.resizeDocks([dock], [GRID_HEIGHT], Qt.Orientation.Vertical)
