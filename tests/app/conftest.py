"""Fixtures for the window tests: isolated settings, patched dialogs, a shown window."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.gui_gc import GuiThreadCollector
from workbench_helpers import Dialogs, close_window, make_window


@pytest.fixture(autouse=True)
def gui_thread_gc(qapp):
    """As in the app: cyclic garbage (old windows' widgets) is collected on the GUI thread only,
    never by a detector worker that happens to allocate (a deadlock with PySide6)."""
    collector = GuiThreadCollector()
    yield collector
    collector.stop()


@pytest.fixture(autouse=True)
def user_data(tmp_path, monkeypatch):
    """The per-user data folder (sample copy, runs) of app/user_data.py, inside tmp_path."""
    folder = tmp_path / "user-data"
    monkeypatch.setenv("DETR_WORKBENCH_DATA", str(folder))
    return folder


@pytest.fixture
def dialogs(monkeypatch) -> Dialogs:
    return Dialogs(monkeypatch)


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings, tmp_path, dialogs):
    win = make_window(qtbot, settings, tmp_path)
    yield win
    close_window(win, dialogs)


