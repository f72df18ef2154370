"""Live training curves (pyqtgraph): loss per step raw and smoothed, its terms (class, L1 box,
GIoU), learning rates, loss per epoch, validation mAP per evaluation; other runs overlaid.

Receiving and drawing are apart (the Acconeer pattern): events only update the run's RunCurves
(state.training.record.curves); a QTimer redraws at REDRAW_HZ when they changed. Every curve is a
PlotDataItem created once and fed with setData; peak downsampling and clip-to-view keep long
runs cheap. Overlay curves of other runs are made when a run is ticked in the Runs list.

pyqtgraph (about a second to import) is imported on a background thread shortly after the Curves
tab is first shown (after the window is on screen; background_import.py), and the plots are built
when it is in; `item()` / `plot()` build them at once if asked before (waiting for the import).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

if TYPE_CHECKING:
    import pyqtgraph as pg

from ..background_import import BackgroundImport
from .curves import DEFAULT_SMOOTHING, RunCurves
from .runs import RunRecord
from .sparse_axis import sparse_axis

REDRAW_HZ = 10
MIN_HEIGHT = 140  # px: the five plots side by side, their legends under them
LEGEND_COLUMNS = 3  # entries side by side under each plot
IMPORT_DELAY_MS = 100  # after the Curves tab is first shown: the window paints before pyqtgraph loads
_PLOTS = {  # key: (title, x label)
    "loss": ("Loss per step", "step"), "terms": ("Loss terms per step", "step"),
    "lr": ("Learning rate per step", "step"), "epoch": ("Loss per epoch", "epoch"),
    "map": ("Validation mAP per epoch", "epoch"),
}
_COLORS = {"loss": "#1f77b4", "loss_ce": "#d62728", "loss_bbox": "#2ca02c", "loss_giou": "#9467bd",
           "lr": "#ff7f0e", "lr_backbone": "#8c564b", "train_loss": "#1f77b4", "val_loss": "#ff7f0e", "AP": "#1f77b4", "AP50": "#ff7f0e",
           "AP75": "#2ca02c"}
_LABELS = {"loss": "total", "loss_ce": "class", "loss_bbox": "L1 box", "loss_giou": "GIoU",
           "lr": "lr", "lr_backbone": "lr backbone", "train_loss": "training", "val_loss": "validation", "AP": "AP", "AP50": "AP50",
           "AP75": "AP75"}
# item name -> (plot, series, smoothed)
_ITEMS = {
    "loss": ("loss", "loss", False), "loss_smooth": ("loss", "loss", True),
    **{f"{t}": ("terms", t, False) for t in ("loss_ce", "loss_bbox", "loss_giou")},
    **{f"{t}_smooth": ("terms", t, True) for t in ("loss_ce", "loss_bbox", "loss_giou")},
    "lr": ("lr", "lr", False), "lr_backbone": ("lr", "lr_backbone", False),
    "train_loss": ("epoch", "train_loss", False), "val_loss": ("epoch", "val_loss", False),
    **{m: ("map", m, False) for m in ("AP", "AP50", "AP75")},
}
_DONE = object()  # next() of a finished _build_steps
_OVERLAY = (("loss", "loss", True), ("epoch", "train_loss", False), ("map", "AP", False))
_OVERLAY_COLORS = ("#7f7f7f", "#bcbd22", "#17becf", "#e377c2", "#8c564b", "#ff9896")


class TrainingPlotsWidget(QWidget):
    def __init__(self, training, parent=None):
        super().__init__(parent)
        self.training = training
        self.smoothing = QDoubleSpinBox()
        self.smoothing.setRange(0.0, 0.99)
        self.smoothing.setSingleStep(0.05)
        self.smoothing.setValue(DEFAULT_SMOOTHING)
        self.smoothing.setToolTip("Exponential moving average weight of the smoothed curves (0: none)")
        self.smoothing.valueChanged.connect(self._on_smoothing_value_changed)
        self.show_raw = QCheckBox("Raw steps")
        self.show_raw.setChecked(True)
        self.show_raw.setToolTip("Also draw the unsmoothed per-step values (faint)")
        self.show_raw.toggled.connect(self._on_show_raw_toggled)
        self.graphics = None  # the pyqtgraph GraphicsLayoutWidget, made by build()
        self.plots: dict[str, pg.PlotItem] = {}
        self._items: dict[str, pg.PlotDataItem] = {}
        self._overlay_items: dict[str, list[pg.PlotDataItem]] = {}
        self._placeholder = QLabel("Loading the plots…")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setMinimumHeight(MIN_HEIGHT)
        # The curves' options, for the tab bar's corner (TrainingDockWidget): no row of their own
        self.options = QWidget()
        header = QHBoxLayout(self.options)
        header.setContentsMargins(0, 0, 4, 0)
        header.addWidget(QLabel("Smoothing"))
        header.addWidget(self.smoothing)
        header.addWidget(self.show_raw)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._placeholder, 1)
        self._drawn: tuple[int, int] | None = None  # (id of the curves, their version) on screen
        self._import: BackgroundImport | None = None  # pyqtgraph, on its way in
        self._steps = None  # the plots being made, one per step (_build_steps)
        self.timer = QTimer(self)
        self.timer.setInterval(1000 // REDRAW_HZ)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()
        training.overlays_changed.connect(self._on_training_overlays_changed)
        training.job_started.connect(lambda _run: self._apply_smoothing())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.graphics is None and self._import is None:
            self._import = BackgroundImport("pyqtgraph")  # no parent: its thread keeps it alive
            self._import.finished.connect(self._on_import_finished)  # queued: on this (GUI) thread
            QTimer.singleShot(IMPORT_DELAY_MS, self, self._import.start)

    @Slot(str, str)
    def _on_import_finished(self, _name: str, error: str) -> None:
        if not error:  # else pyqtgraph is missing or broken: item() / plot() say so when asked
            self._build_next()

    @Slot()
    def _build_next(self) -> None:
        """One plot per event-loop turn: the five together took 100 ms of GUI time at once."""
        if self._steps is None:
            self._steps = self._build_steps()
        if next(self._steps, _DONE) is not _DONE:
            QTimer.singleShot(0, self, self._build_next)

    def build(self) -> None:
        """Make the plots and their curves now (the rest of them, if some are made already)."""
        if self.graphics is None:
            if self._steps is None:
                self._steps = self._build_steps()
            for _ in self._steps:
                pass

    def _build_steps(self):
        """Make the plots and their curves, yielding after each plot; draws what the curves hold
        so far. `graphics` is set at the end: until then the widget has no plots to draw on."""
        import pyqtgraph as pg

        graphics = pg.GraphicsLayoutWidget()
        graphics.setBackground("w")
        graphics.setMinimumHeight(MIN_HEIGHT)
        # Its size hint (about 230 px) does not ask for height: the dock's word-wrapped labels make
        # its scroll area size the panel by height-for-width, and the plots would not fit at 1366×768.
        graphics.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        for i, (key, (title, _x_label)) in enumerate(_PLOTS.items()):  # the title names the x axis
            plot = graphics.addPlot(row=0, col=i, axisItems={"left": sparse_axis("left")})
            plot.setTitle(title, size="9pt")
            plot.showGrid(x=True, y=True, alpha=0.25)
            # The legend under the plot, in the layout, never over the data (issue 17, item 6);
            # PlotItem adds every named curve to `plot.legend` (and removes it with the curve).
            plot.legend = pg.LegendItem(labelTextSize="7pt", verSpacing=-6, colCount=LEGEND_COLUMNS)
            graphics.addItem(plot.legend, row=1, col=i)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            self.plots[key] = plot
            for name, spec in _ITEMS.items():
                if spec[0] == key:
                    self._items[name] = self._make_item(name, *spec)
            yield
        graphics.ci.layout.setRowStretchFactor(0, 1)  # the plots take the height, legends their own
        graphics.ci.layout.setRowStretchFactor(1, 0)
        self.graphics = graphics
        self.layout().replaceWidget(self._placeholder, self.graphics)
        self._placeholder.deleteLater()
        self._on_show_raw_toggled(self.show_raw.isChecked())
        self._on_training_overlays_changed()
        self.redraw()

    def _make_item(self, name: str, plot: str, series: str, smoothed: bool) -> pg.PlotDataItem:
        import pyqtgraph as pg

        color = pg.mkColor(_COLORS[series])
        raw_of_smoothed = not smoothed and any(s == series and sm for p, s, sm in _ITEMS.values())
        if raw_of_smoothed:
            color.setAlpha(70)
        symbol = "o" if plot in ("epoch", "map") else None
        label = None if raw_of_smoothed else _LABELS[series]
        item = self.plots[plot].plot([], [], pen=pg.mkPen(color, width=1 if raw_of_smoothed else 2), name=label,
                                     symbol=symbol, symbolSize=5, symbolBrush=color, connect="finite")
        item.setProperty("raw", raw_of_smoothed)
        return item

    # -- public -------------------------------------------------------------------------------------
    def item(self, name: str) -> pg.PlotDataItem:
        """The curve `name`: loss, loss_smooth, loss_ce(_smooth), loss_bbox(_smooth),
        loss_giou(_smooth), lr, lr_backbone, train_loss, val_loss, AP, AP50, AP75."""
        self.build()
        return self._items[name]

    def plot(self, key: str) -> pg.PlotItem:
        """The plot `key`: loss, terms, lr, epoch, map."""
        self.build()
        return self.plots[key]

    def overlay_items(self, run_dir: str) -> list[pg.PlotDataItem]:
        self.build()
        return list(self._overlay_items.get(str(run_dir), []))

    def displayed(self) -> RunRecord | None:
        """The run drawn: the job's (running or last), else the one selected in the Runs list."""
        return self.training.record or self.training.selected

    @Slot()
    def redraw(self) -> None:
        record = self.displayed()
        if record is None or self.graphics is None:
            return
        curves = record.curves
        if self._drawn == (id(curves), curves.version):
            return
        self._drawn = (id(curves), curves.version)
        for name, (_plot, series, smoothed) in _ITEMS.items():
            x, y = curves.smoothed(series) if smoothed else curves.arrays(series)
            self._items[name].setData(x, y)

    # -- slots ----------------------------------------------------------------------------------------
    def _apply_smoothing(self) -> None:
        weight = self.smoothing.value()
        records = [self.displayed(), *self.training.overlays.values()]
        for curves in {id(r.curves): r.curves for r in records if r is not None}.values():
            if curves.smoothing != weight:
                curves.set_smoothing(weight)

    @Slot(float)
    def _on_smoothing_value_changed(self, _value: float) -> None:
        self._apply_smoothing()
        self._on_training_overlays_changed()
        self.redraw()

    @Slot(bool)
    def _on_show_raw_toggled(self, on: bool) -> None:
        for item in self._items.values():
            if item.property("raw"):
                item.setVisible(on)

    @Slot()
    def _on_training_overlays_changed(self) -> None:
        if self.graphics is None:  # build() draws the overlays
            return
        for items in self._overlay_items.values():
            for (plot, _series, _smoothed), item in zip(_OVERLAY, items):
                self.plots[plot].removeItem(item)  # and its legend entry
        self._overlay_items = {}
        self._apply_smoothing()
        import pyqtgraph as pg

        for k, (key, record) in enumerate(self.training.overlays.items()):
            color = pg.mkColor(_OVERLAY_COLORS[k % len(_OVERLAY_COLORS)])
            pen = pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine)
            self._overlay_items[key] = [self._overlay_item(record.curves, record.name, plot, series, smoothed, pen)
                                        for plot, series, smoothed in _OVERLAY]

    def _overlay_item(self, curves: RunCurves, name: str, plot: str, series: str, smoothed: bool,
                      pen) -> pg.PlotDataItem:
        x, y = curves.smoothed(series) if smoothed else curves.arrays(series)
        return self.plots[plot].plot(x, y, pen=pen, name=name, connect="finite",
                                     symbol="t" if plot != "loss" else None, symbolSize=6,
                                     symbolBrush=pen.color())
