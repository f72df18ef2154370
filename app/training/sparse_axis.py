"""A plot axis whose tick labels never overlap, however short the plot.

pyqtgraph's AxisItem always asks for at least 2.25 intervals between major ticks and draws every
major tick's label: on a plot 40 px high (the training plots at 1366×768) the five labels of 0.0 to
1.0 in steps of 0.2 are drawn over each other. This axis keeps pyqtgraph's spacing while its labels
fit, and otherwise widens the major spacing to the next 1-2-5 step at which they do (dropping the
minor levels, whose labels would not fit either).

    axis = sparse_axis("left")     # pyqtgraph is imported by the caller's thread before this
    plot = graphics.addPlot(axisItems={"left": axis})
"""
from __future__ import annotations

import math

from PySide6.QtGui import QFontMetrics

LABEL_PX = 16  # px along a vertical axis that one tick label needs, unless told (a line and a gap)


def fitting_spacing(span: float, size_px: float, spacing: float, label_px: float = LABEL_PX) -> float:
    """The smallest 1-2-5 multiple of `spacing` at which the labels of a `span` long range fit into
    `size_px` pixels (`spacing` itself when they do)."""
    fits = max(1, int(size_px // label_px))  # labels that fit
    step = spacing
    while math.floor(span / step + 1e-9) + 1 > fits and step < span * 1e6:
        exponent = math.floor(math.log10(step))
        mantissa = round(step / 10 ** exponent, 6)
        # a float, never an int: pyqtgraph multiplies it by ceil(min / spacing), an int
        step = (2.0 if mantissa < 2 else 5.0 if mantissa < 5 else 10.0) * 10.0 ** exponent
    return step


def sparse_axis(orientation: str):
    """An AxisItem (pyqtgraph) for `orientation` whose labels fit its length (module docstring)."""
    import pyqtgraph as pg

    class SparseAxis(pg.AxisItem):
        def tickSpacing(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph's name)
            levels = super().tickSpacing(minVal, maxVal, size)
            if not levels or self.orientation not in ("left", "right"):
                return levels
            major, offset = levels[0]
            line = QFontMetrics(self.style["tickFont"] or self.font()).height() + 1
            wide = fitting_spacing(abs(maxVal - minVal), size, major, line)
            return levels if wide == major else [(wide, offset)]

    return SparseAxis(orientation)
