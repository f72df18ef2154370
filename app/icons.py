"""Icons: the SVGs in resources/icons, plus small coloured dots drawn on demand."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """`resources/icons/<name>.svg` as an icon (an empty icon if the file is missing)."""
    path = ICON_DIR / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


def dot_pixmap(color: QColor | str, size: int = 12, *, square: bool = False) -> QPixmap:
    """A filled circle (or rounded square, for class swatches) of `color`."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    fill = QColor(color)
    painter.setPen(fill.darker(140))
    painter.setBrush(fill)
    rect = QRectF(1, 1, size - 2, size - 2)
    if square:
        painter.drawRoundedRect(rect, 2, 2)
    else:
        painter.drawEllipse(rect)
    painter.end()
    return pixmap


@lru_cache(maxsize=256)
def dot_icon(color: str, square: bool = False) -> QIcon:
    return QIcon(dot_pixmap(color, 14, square=square))
