"""The conversations around files: open dialogs, "save your changes first?", where to save a new
document, a file changed on disk, a failed save, images not found, recovering after a crash.

It turns user answers into DocumentSession calls and session signals into questions; it owns no
data. Every failure is shown as one message naming the file and the problem; nothing is lost.
"""
from __future__ import annotations

import datetime
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from .opening import DEFAULT_JSON_NAME

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.tif *.tiff *.webp);;All files (*)"
JSON_FILTER = "COCO JSON (*.json);;All files (*)"
MAX_LISTED = 6
_B = QMessageBox.StandardButton


def _listed(lines: list[str]) -> str:
    shown = "\n".join(f"• {line}" for line in lines[:MAX_LISTED])
    more = f"\n… and {len(lines) - MAX_LISTED} more" if len(lines) > MAX_LISTED else ""
    return shown + more


class FileFlows(QObject):
    def __init__(self, window: QWidget, state, session, recent):
        super().__init__(window)
        self.window, self.state, self.session, self.recent = window, state, session, recent
        self._after_save: Callable[[], None] | None = None
        self._autosave_warned = False
        session.opened.connect(recent.add)
        session.open_failed.connect(self._on_session_open_failed)
        session.open_warnings.connect(self._on_session_open_warnings)
        session.images_missing.connect(self._on_session_images_missing)
        session.recovery_offered.connect(self._on_session_recovery_offered)
        session.saved.connect(self._on_session_saved)
        session.save_failed.connect(self._on_session_save_failed)
        session.disk_changed.connect(self._on_session_disk_changed)
        session.autosave_failed.connect(self._on_session_autosave_failed)
        recent.chosen.connect(self.open_path)

    def _start_dir(self) -> str:
        return str(self.state.root) if self.state.root else str(Path.home())

    # -- opening ----------------------------------------------------------------------------------
    def open_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open image", self._start_dir(), IMAGE_FILTER)
        if path:
            self.open_path(path)

    def open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Open folder of images", self._start_dir())
        if path:
            self.open_path(path)

    def open_json(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open COCO JSON", self._start_dir(), JSON_FILTER)
        if path:
            self.open_path(path)

    @Slot(str)
    def open_path(self, path: str, image_root: str | None = None) -> None:
        self.run_after_confirm(lambda: self.session.open(path, image_root))

    def close_document(self) -> None:
        def close():
            self.session.discard_autosave()
            self.state.install(None, [], None)
        self.run_after_confirm(close)

    # -- saving -----------------------------------------------------------------------------------
    def save(self) -> bool:
        """Ctrl+S. A document never saved (a folder of images) asks where first."""
        doc = self.state.document
        if doc is None:
            return False
        if doc.path is None:
            return self.save_as()
        return self.session.save()

    def save_as(self) -> bool:
        if self.state.document is None:
            return False
        default = self.session.target or (self.state.root / DEFAULT_JSON_NAME)
        path, _ = QFileDialog.getSaveFileName(self.window, "Save COCO JSON", str(default), JSON_FILTER)
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self.session.save(path)

    def run_after_confirm(self, action: Callable[[], None]) -> None:
        """Run `action` now if there is nothing unsaved; otherwise ask Save / Discard / Cancel
        (Save runs it after a successful save). A big document being written ("Saving…") is
        finished first: a finished save leaves nothing to ask, and nothing races the write."""
        self.session.finish_writing()
        if not self.state.is_dirty():
            action()
            return
        name = self.state.document.label if self.state.document else "the document"
        answer = QMessageBox.question(self.window, "Unsaved changes",
                                      f"Save the changes to {name} first?", _B.Save | _B.Discard | _B.Cancel,
                                      _B.Save)
        if answer == _B.Save:
            self._after_save = action
            if not self.save():
                self._after_save = None
        elif answer == _B.Discard:
            self.session.discard_autosave()
            action()

    # -- session answers ----------------------------------------------------------------------------
    @Slot(str)
    def _on_session_open_failed(self, message: str) -> None:
        QMessageBox.warning(self.window, "Cannot open", message)

    @Slot(str, list)
    def _on_session_open_warnings(self, path: str, warnings: list) -> None:
        QMessageBox.warning(self.window, "Opened with warnings", f"{path}\n\n{_listed(warnings)}")

    @Slot(str, str)
    def _on_session_images_missing(self, path: str, root: str) -> None:
        answer = QMessageBox.question(self.window, "Images not found",
                                      f"None of the images listed in {path} were found under {root}.\n\n"
                                      "Choose the folder that holds them?")
        if answer == _B.Yes:
            folder = QFileDialog.getExistingDirectory(self.window, "Image folder", root)
            if folder:
                self.session.open(path, folder)

    @Slot(str, str)
    def _on_session_recovery_offered(self, target: str, sidecar: str) -> None:
        when = datetime.datetime.fromtimestamp(Path(sidecar).stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        answer = QMessageBox.question(self.window, "Recover unsaved work?",
                                      f"Unsaved changes to {target} were autosaved at {when}, and the "
                                      "workbench did not close normally.\n\nRecover them? (No discards "
                                      "the autosave.)")
        if answer == _B.Yes:
            self.session.recover(sidecar)
        else:
            self.session.discard_recovery(sidecar)

    def offer_startup_recovery(self) -> bool:
        """After a crash, offer the work the last session autosaved. True if it is being opened."""
        for entry in self.session.pending_recoveries():
            answer = QMessageBox.question(self.window, "Recover unsaved work?",
                                          f"The workbench did not close normally. Unsaved work on "
                                          f"{entry['source']} was autosaved.\n\nOpen it and recover the "
                                          "changes? (No discards the autosave.)")
            if answer == _B.Yes:
                self.session.open(entry["source"], recover_sidecar=entry["sidecar"])
                return True
            self.session.discard_recovery(entry["sidecar"])
        return False

    @Slot(str)
    def _on_session_saved(self, path: str) -> None:
        self.recent.add(path)
        action, self._after_save = self._after_save, None
        if action is not None:
            action()

    @Slot(str)
    def _on_session_save_failed(self, message: str) -> None:
        self._after_save = None
        QMessageBox.warning(self.window, "Save failed",
                            f"{message}\n\nYour edits are still open and nothing was lost. "
                            "Use Save As to write the file somewhere else.")

    @Slot(str)
    def _on_session_disk_changed(self, path: str) -> None:
        answer = QMessageBox.question(self.window, "File changed on disk",
                                      f"{path} was changed by someone else since it was loaded.\n\n"
                                      "Yes: overwrite it with your version (the current file is kept as "
                                      ".bak). No: save under another name. Cancel: do not save.",
                                      _B.Yes | _B.No | _B.Cancel, _B.Cancel)
        if answer == _B.Yes:
            self.session.save(path, force=True)
        elif answer == _B.No:
            if not self.save_as():
                self._after_save = None
        else:
            self._after_save = None

    @Slot(str)
    def _on_session_autosave_failed(self, message: str) -> None:
        self.state.message.emit(message)
        if not self._autosave_warned:
            self._autosave_warned = True
            QMessageBox.warning(self.window, "Autosave failed", f"{message}\n\nSave with Ctrl+S to keep your work.")
