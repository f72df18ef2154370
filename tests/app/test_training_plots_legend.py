"""The training plots' legends sit beside the data, never over it (issue 17, item 6: "the mAP
legend covering points"), and all of them show, the Training panel not scrolling: a remembered run whose validation mAP rises every epoch (its last,
highest points at the top right, where a legend inside the plot sat) is drawn at 1366×768, and
no plotted point lies under any legend. The run folder is written with detr_core.train.events."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRect
from PySide6.QtWidgets import QApplication

from app.window_layout import TITLE_BAR, fit_to_screen
from detr_core.train.events import EpochDone, EvalDone, RunEnded, RunStarted, StepDone
from training_helpers import job_question, train_window  # noqa: F401

EPOCHS = 8


def write_rising_run(folder):
    """A finished run of EPOCHS epochs, 2 steps each, whose loss falls and mAP rises each epoch."""
    folder.mkdir(parents=True)
    steps = 2 * EPOCHS
    events = [RunStarted(run_dir=str(folder), resumed=False, epochs=EPOCHS, steps_per_epoch=2, total_steps=steps,
                         start_epoch=1, start_step=0, batch_size=2, world_size=1, device="cpu", train_images=4,
                         val_images=1, class_names=["cat"], model_config={}, train_config={}, base="tiny")]
    metrics = {}
    for n in range(1, steps + 1):
        events.append(StepDone(epoch=(n - 1) // 2 + 1, epoch_step=(n - 1) % 2 + 1, steps_per_epoch=2, step=n,
                               total_steps=steps, loss=20.0 - n,
                               losses={"loss_ce": 2.0 - n / 10, "loss_bbox": 1.0, "loss_giou": 0.5},
                               lr=1e-4, lr_backbone=1e-5, grad_norm=1.0, images_per_s=2, elapsed_s=n, eta_s=1))
        if n % 2 == 0:
            ap = 0.1 * n / 2
            metrics = {"AP": ap, "AP50": min(1.0, 1.5 * ap), "AP75": ap / 2, "per_class": {"cat": ap}}
            events.append(EvalDone(epoch=n // 2, step=n, metrics=metrics, images=1, duration_s=1))
            events.append(EpochDone(epoch=n // 2, epochs=EPOCHS, step=n, total_steps=steps, loss=20.0 - n,
                                    losses={}, duration_s=1, images_per_s=2, eta_s=1, metrics=metrics))
    events.append(RunEnded("completed", EPOCHS, steps, steps, 9.0, metrics, str(folder / "model.pth"), None))
    (folder / "metrics.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    (folder / "model.pth").write_bytes(b"weights")
    return folder


def point_positions(plots, key: str, names: list[str]) -> list[QPointF]:
    """The scene position of every point of the curves `names` in plot `key`."""
    view = plots.plot(key).getViewBox()
    positions = []
    for name in names:
        xs, ys = plots.item(name).getData()
        positions += [view.mapViewToScene(QPointF(float(x), float(y))) for x, y in zip(xs, ys)]
    return positions


def rising_run_at_1366(qtbot, settings, tmp_path, window):
    """(run folder, panel, plots): the rising run selected in the window fitted to 1366×768, its
    plots built and shown."""
    run = write_rising_run(tmp_path / "rising")
    settings.setValue("training/runs", [str(run)])
    window.state.training.use_settings(settings)
    fit_to_screen(window, QRect(0, 0, 1366, 768))
    panel = window.training_ui.panel
    panel.history.table.selectRow(0)
    plots = panel.plots
    plots.redraw()
    panel.tabs.setCurrentWidget(plots)
    qtbot.waitUntil(lambda: plots.graphics is not None and plots.graphics.isVisible(), timeout=5000)
    QApplication.processEvents()
    return run, panel, plots


def test_no_legend_covers_a_plotted_point(qtbot, settings, tmp_path, train_window):
    window = train_window
    run, panel, plots = rising_run_at_1366(qtbot, settings, tmp_path, window)
    assert window.state.training.selected.run_dir == run
    assert len(plots.item("AP").getData()[0]) == EPOCHS
    curves = {"map": ["AP", "AP50", "AP75"], "epoch": ["train_loss"],
              "loss": ["loss_smooth"], "terms": ["loss_ce_smooth", "loss_bbox_smooth", "loss_giou_smooth"]}
    graphics = plots.graphics
    shown = graphics.mapToScene(graphics.viewport().rect()).boundingRect()
    area = window.training_ui.dock.widget()  # the dock's scroll area: all of it in view at 1366×768
    assert area.verticalScrollBar().maximum() == 0 and area.horizontalScrollBar().maximum() == 0, \
        f"the Training panel scrolls: {panel.minimumSizeHint()} in {area.viewport().size()}"
    for key, names in curves.items():
        plot = plots.plot(key)
        legend = plot.legend.sceneBoundingRect()
        assert shown.contains(legend), f"the {key} legend {legend} is cut off the plots' view {shown}"
        assert legend.width() > 0 and legend.height() > 0, f"the {key} legend is not drawn"
        points = point_positions(plots, key, names)
        assert points, key
        covered = [p for p in points if legend.contains(p)]
        assert not covered, f"the {key} legend {legend} covers {len(covered)} of {len(points)} points"
        area = plot.getViewBox().sceneBoundingRect()
        assert all(area.adjusted(-1, -1, 1, 1).contains(p) for p in points), f"{key}: a point is outside its plot"


def test_tick_labels_do_not_overlap_on_short_plots(qtbot, settings, tmp_path, train_window):
    """At 1366×768 the plots are about 40 px high: their value labels (0.0, 0.2, ... drawn over each
    other by pyqtgraph's own axis) are spaced so that each has a line's height to itself."""
    from PySide6.QtGui import QFontMetrics

    _run, _panel, plots = rising_run_at_1366(qtbot, settings, tmp_path, train_window)
    for key in ("loss", "terms", "lr", "epoch", "map"):
        axis = plots.plot(key).getAxis("left")
        low, high = axis.range
        height = axis.geometry().height()
        line = QFontMetrics(axis.style["tickFont"] or axis.font()).height()
        labelled = [v for _spacing, values in axis.tickValues(low, high, height)[:1] for v in values
                    if low <= v <= high]
        assert labelled, f"the {key} plot shows no value at all"
        assert len(labelled) * line <= height, \
            f"the {key} plot draws {len(labelled)} labels of {line} px on {height:.0f} px: {labelled}"



def test_a_diverged_run_s_huge_values_still_get_ticks(qtbot):
    """lr 1e30 (tests/app/test_training_failures.py) puts 1e30 on the lr plot's axis: the widened
    spacing must stay a float (an int made pyqtgraph overflow int64 while painting)."""
    from app.training.sparse_axis import sparse_axis

    axis = sparse_axis("left")
    for low, high, size in ((-3e29, 1e30, 30), (0.0, 1e30, 300), (0.0, 1.0, 30), (0.0, 12.0, 40)):
        levels = axis.tickValues(low, high, size)
        values = [v for _spacing, vs in levels for v in vs]
        assert values and all(low <= v <= high for v in values), (low, high, values)
        assert all(isinstance(spacing, float) for spacing, _ in levels)
