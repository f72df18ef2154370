"""DocumentSession: opening, saving, autosave and crash recovery, all off the GUI thread.

Save (Ctrl+S) writes through `CocoDocument.save`: temporary file, fsync, rename, previous version
kept as `<name>.bak`; a file changed on disk since it was loaded raises DiskChangedError, which
becomes `disk_changed` (the window asks before `save(force=True)`); any other failure becomes
`save_failed` with the old file intact and the edits still open.

Autosave (every 30 s and on image change, when there are edits since the last one) writes the
whole document to a sidecar next to the target, `<name>.json.autosave` (or, if that folder is
not writable, to the app data folder). Each sidecar is listed in QSettings under
"recovery/entries" until the work is saved or deliberately discarded, so after a crash the next
start (or the next open of the same file or folder) offers to recover it.

Small documents (up to SMALL_DOCUMENT boxes, a few MB of JSON) are saved on the GUI thread,
and their autosave is serialised there (tens of milliseconds at most) and written by a worker, so
editing never waits. Bigger documents are serialised and written on a worker; meanwhile
`state.busy` is set and edits are refused with a message, and autosave runs on the timer only.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer, Signal, Slot

from detr_core.atomic import atomic_write
from detr_core.coco import DiskChangedError
from detr_core.errors import DatasetError, WorkbenchError

from .opening import OpenResult, open_source, recover
from ..tasks import TaskRunner

log = logging.getLogger(__name__)

AUTOSAVE_SECONDS = 30
SMALL_DOCUMENT = 20_000  # boxes; above this, saving and autosave serialise on a worker
SIDECAR_SUFFIX = ".autosave"
_REGISTRY_KEY = "recovery/entries"


def default_fallback_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(base or Path.home() / ".detr-workbench") / "autosave"


class DocumentSession(QObject):
    opened = Signal(str)  # what was opened (for recent items)
    open_failed = Signal(str)  # one-line message
    open_warnings = Signal(str, list)  # path, warnings (loaded anyway)
    images_missing = Signal(str, str)  # JSON path, the image root searched: ask for the folder
    recovery_offered = Signal(str, str)  # target, sidecar: ask whether to recover
    saved = Signal(str)
    save_failed = Signal(str)  # one-line message; nothing lost
    disk_changed = Signal(str)  # the target changed on disk: ask before overwriting
    autosaved = Signal(str)  # sidecar path
    autosave_failed = Signal(str)

    def __init__(self, state, settings: QSettings, autosave_seconds: float = AUTOSAVE_SECONDS,
                 fallback_dir: Path | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.small_document = SMALL_DOCUMENT
        self.settings = settings
        self.fallback_dir = fallback_dir or default_fallback_dir()
        self.opened_result: OpenResult | None = None
        self.target: Path | None = None  # where Save writes
        self._changes = 0  # edits so far (undo stack moves)
        self._autosaved_changes = 0
        self._pending: dict[str, object] = {}  # task name -> its arguments
        self.runner = TaskRunner(self)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.failed.connect(self._on_runner_failed)
        self.timer = QTimer(self)
        self.timer.setInterval(int(autosave_seconds * 1000))
        self.timer.timeout.connect(self.autosave)
        self.timer.start()
        state.undo_stack.indexChanged.connect(self._on_undo_stack_index_changed)
        state.current_changed.connect(self._on_state_current_changed)

    # -- opening ----------------------------------------------------------------------------------
    def is_opening(self) -> bool:
        return self.runner.is_running("open")

    def open(self, path: str | os.PathLike, image_root=None, recover_sidecar: str | None = None) -> None:
        """Open asynchronously; `opened`/`open_failed` follow. `recover_sidecar`: load the
        autosave in place of the file right away (after a crash, when the user said so)."""
        if self.runner.is_running("open"):
            self.state.message.emit("Still opening the previous item…")
            return
        self.state.message.emit(f"Opening {path} …")
        self._pending["open"] = (str(path), recover_sidecar)

        def job():
            result = open_source(path, image_root)
            if recover_sidecar:
                result = recover(result, Path(recover_sidecar))
            return result

        self.runner.start("open", job)

    def recover(self, sidecar: str) -> None:
        """Replace the open document by the autosaved one (asked after `recovery_offered`)."""
        opened = self.opened_result
        if opened is None or self.runner.is_running("open"):
            return
        self._pending["open"] = (str(opened.source), sidecar)
        self.runner.start("open", lambda: recover(opened, Path(sidecar)))

    def discard_recovery(self, sidecar: str) -> None:
        self._remove_sidecar(Path(sidecar))

    def _on_opened(self, result: OpenResult) -> None:
        self.opened_result, self.target = result, result.target
        self._changes = self._autosaved_changes = 0
        recovered = result.recovered_from is not None
        self.state.install(result.document, result.entries, result.root, result.select_path,
                           unsaved=recovered)
        self.state.message.emit(f"Opened {result.source} — {len(result.entries)} images"
                                + (" (recovered unsaved work)" if recovered else ""))
        self.opened.emit(str(result.source))
        if result.images_missing:  # asked about first; its warnings would only repeat it
            self.images_missing.emit(str(result.source), str(result.root))
        elif result.warnings:
            self.open_warnings.emit(str(result.source), result.warnings)
        if recovered:
            self._autosaved_changes = -1  # write a fresh sidecar at the next chance
            return
        sidecar = self.find_sidecar(result.target)
        if sidecar is not None:
            self.recovery_offered.emit(str(result.target), str(sidecar))

    # -- saving -----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike | None = None, force: bool = False) -> bool:
        """Save to `path` (default: the document's own file); `saved`, `save_failed` or
        `disk_changed` follow (at once for a small document). False if there is nothing to save
        to yet (a folder never saved: the window asks where first) or a save is running."""
        doc = self.state.document
        if doc is None or self.runner.is_running("save"):
            return False
        target = Path(path) if path is not None else doc.path
        if target is None:
            return False
        if self.is_small(doc):
            try:
                doc.save(target, force=force)
            except DatasetError as e:  # DiskChangedError included; the file and edits are intact
                self._on_save_failed(target, e)
            else:
                self._on_saved(target)
            return True
        self.runner.wait()  # let a running autosave finish first
        self.state.set_busy(True)
        self._pending["save"] = target
        self.runner.start("save", lambda: doc.save(target, force=force))
        return True

    def is_small(self, doc) -> bool:
        return len(doc.annotations) <= self.small_document

    def _on_save_failed(self, target: Path, error: Exception) -> None:
        if isinstance(error, DiskChangedError):
            self.disk_changed.emit(str(target))
        else:
            message = str(error) if isinstance(error, WorkbenchError) else f"{target}: {type(error).__name__}: {error}"
            self.save_failed.emit(message)

    def is_saving(self) -> bool:
        return self.runner.is_running("save")

    def _on_saved(self, target: Path) -> None:
        old_target = self.target
        self.target = target
        self.state.mark_saved()
        for t in {old_target, target}:
            if t is not None:
                self._remove_sidecar(self.sidecar_for(t))
        self.state.message.emit(f"Saved {target}")
        self.saved.emit(str(target))

    # -- autosave ---------------------------------------------------------------------------------
    @Slot()
    def autosave(self, on_image_change: bool = False) -> None:
        """Write the sidecar if there are edits since the last autosave (never on the GUI thread)."""
        doc = self.state.document
        if doc is None or self.target is None or not self.state.is_dirty() or self.state.busy \
                or self._changes == self._autosaved_changes or self.runner.is_running():
            return
        small = self.is_small(doc)
        if on_image_change and not small:
            return  # big documents: on the timer only, so browsing never waits
        sidecar = self.sidecar_for(self.target)
        changes, fmt, data = self._changes, doc.json_format, doc.data
        payload = fmt.dumps(data).encode("utf-8") if small else None  # a snapshot, on this thread
        if not small:
            self.state.set_busy(True)
        self._pending["autosave"] = (sidecar, changes, small)

        def job():
            content = payload if payload is not None else fmt.dumps(data).encode("utf-8")
            sidecar.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(sidecar, lambda f: f.write(content))
            return sidecar

        self.runner.start("autosave", job)

    def sidecar_for(self, target: Path) -> Path:
        beside = target.with_name(target.name + SIDECAR_SUFFIX)
        if os.access(target.parent, os.W_OK):
            return beside
        digest = hashlib.sha1(str(target).encode("utf-8")).hexdigest()[:12]
        return self.fallback_dir / f"{digest}-{target.name}{SIDECAR_SUFFIX}"

    def find_sidecar(self, target: Path) -> Path | None:
        """An autosave of `target` newer than `target` itself, if one was left behind."""
        digest = hashlib.sha1(str(target).encode("utf-8")).hexdigest()[:12]
        candidates = [target.with_name(target.name + SIDECAR_SUFFIX),
                      self.fallback_dir / f"{digest}-{target.name}{SIDECAR_SUFFIX}"]
        for sidecar in candidates:
            if sidecar.is_file():
                if target.is_file() and sidecar.stat().st_mtime_ns < target.stat().st_mtime_ns:
                    continue  # saved after the autosave: nothing to recover
                return sidecar
        return None

    def discard_autosave(self) -> None:
        """The user closes without saving: the sidecar goes, and will not be offered again."""
        if self.target is not None:
            self._remove_sidecar(self.sidecar_for(self.target))

    # -- the crash-recovery registry ----------------------------------------------------------------
    def pending_recoveries(self) -> list[dict]:
        """Sidecars left by a session that did not end cleanly: [{"sidecar", "source", "target"}]."""
        return [e for e in self._registry() if Path(e.get("sidecar", "")).is_file()]

    def _registry(self) -> list[dict]:
        raw = self.settings.value(_REGISTRY_KEY, "[]")
        try:
            entries = json.loads(raw) if isinstance(raw, str) else []
        except json.JSONDecodeError:
            entries = []
        return [e for e in entries if isinstance(e, dict)]

    def _write_registry(self, entries: list[dict]) -> None:
        self.settings.setValue(_REGISTRY_KEY, json.dumps(entries))
        self.settings.sync()

    def _register(self, sidecar: Path) -> None:
        entries = [e for e in self._registry() if e.get("sidecar") != str(sidecar)]
        source = self.opened_result.source if self.opened_result else self.target
        entries.append({"sidecar": str(sidecar), "source": str(source), "target": str(self.target)})
        self._write_registry(entries)

    def _remove_sidecar(self, sidecar: Path) -> None:
        try:
            sidecar.unlink(missing_ok=True)
        except OSError as e:
            log.warning("cannot remove autosave %s: %s", sidecar, e)
        self._write_registry([e for e in self._registry() if e.get("sidecar") != str(sidecar)])

    # -- plumbing ---------------------------------------------------------------------------------
    @Slot(int)
    def _on_undo_stack_index_changed(self, index: int) -> None:
        self._changes += 1

    @Slot(int)
    def _on_state_current_changed(self, row: int) -> None:
        QTimer.singleShot(0, lambda: self.autosave(on_image_change=True))  # after the image request

    def shutdown(self) -> None:
        self.timer.stop()
        self.runner.wait()

    @Slot(str, object)
    def _on_runner_finished(self, name: str, result) -> None:
        args = self._pending.pop(name, None)
        if name == "open":
            self._on_opened(result)
        elif name == "save":
            self.state.set_busy(False)
            self._on_saved(args)
        elif name == "autosave":
            sidecar, changes, small = args
            if not small:
                self.state.set_busy(False)
            self._autosaved_changes = changes
            self._register(sidecar)
            self.autosaved.emit(str(sidecar))

    @Slot(str, object)
    def _on_runner_failed(self, name: str, error) -> None:
        args = self._pending.pop(name, None)
        message = str(error) if isinstance(error, WorkbenchError) else f"{type(error).__name__}: {error}"
        if name == "open":
            self.state.message.emit(f"Could not open {args[0]}")
            self.open_failed.emit(message if isinstance(error, WorkbenchError) else f"{args[0]}: {message}")
        elif name == "save":
            self.state.set_busy(False)
            self._on_save_failed(args, error)
        elif name == "autosave":
            sidecar, _changes, small = args
            if not small:
                self.state.set_busy(False)
            self.autosave_failed.emit(f"Autosave to {sidecar} failed: {message}")
