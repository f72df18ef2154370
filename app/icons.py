"""Icons: the bundled SVGs (resources/icons, found by app.resources), plus small coloured dots
drawn on demand."""
from __future__ import annotations

import logging
from functools import lru_cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from .resources import icon_dir

log = logging.getLogger(__name__)
ICON_DIR = icon_dir()


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """`resources/icons/<name>.svg` as an icon; a missing file gives an empty icon and is logged
    (once per name)."""
    path = ICON_DIR / f"{name}.svg"
    if not path.is_file():
        log.warning("icon %r not found: %s is missing", name, path)
        return QIcon()
    return QIcon(str(path))


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
