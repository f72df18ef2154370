"""Recently opened images, folders and COCO files, kept in QSettings, newest first."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QMenu

MAX_RECENT = 12
_KEY = "recent/paths"


class RecentItems(QObject):
    chosen = Signal(str)  # a recent path the user picked

    def __init__(self, settings: QSettings, menu: QMenu, parent: QObject | None = None):
        super().__init__(parent)
        self.settings, self.menu = settings, menu
        self.menu.aboutToShow.connect(self._rebuild)
        self._rebuild()

    def paths(self) -> list[str]:
        value = self.settings.value(_KEY, [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [str(p) for p in value or []]

    def add(self, path: str) -> None:
        path = str(Path(path).absolute())
        paths = [path] + [p for p in self.paths() if p != path]
        self.settings.setValue(_KEY, paths[:MAX_RECENT])
        self._rebuild()

    def clear(self) -> None:
        self.settings.setValue(_KEY, [])
        self._rebuild()

    def _rebuild(self) -> None:
        self.menu.clear()
        paths = self.paths()
        for i, path in enumerate(paths, start=1):
            exists = Path(path).exists()
            label = f"&{i % 10}  {Path(path).name or path}" + ("" if exists else "  (missing)")
            action = self.menu.addAction(label, lambda p=path: self.chosen.emit(p))
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(exists)
        if paths:
            self.menu.addSeparator()
            self.menu.addAction("Clear Recent Items", self.clear)
        else:
            self.menu.addAction("No recent items").setEnabled(False)
