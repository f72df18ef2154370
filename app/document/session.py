"""DocumentSession: opening, saving, autosave and crash recovery, all off the GUI thread.

Save (Ctrl+S) writes through `CocoDocument.save`: temporary file, fsync, rename, previous version
kept as `<name>.bak`; a file changed on disk since it was loaded raises DiskChangedError, which
becomes `disk_changed` (the window asks before `save(force=True)`); any other failure becomes
`save_failed` with the old file intact and the edits still open.

Every edit is appended to the write-ahead journal `<name>.json.journal` beside the target (or,
if that folder is not writable, in the app data folder) before it is shown: see
app/document/journal.py (written and fsynced by its own thread, at most 0.2 s behind) and
app/recovery.py (where it lives, how it is replayed). Autosave (every 30 s and on image change,
when there are edits since the last one) compacts it: a snapshot replaces the journal in one
rename. Each journal is listed in QSettings under "recovery/entries" (key "sidecar") from its
first edit until the work is saved or deliberately discarded, so after a crash the next start
(or the next open of the same file or folder) offers to recover it.

Small documents (up to SMALL_DOCUMENT boxes, a few MB of JSON) are saved on the GUI thread,
and their autosave is serialised there (tens of milliseconds at most) and written by a worker, so
editing never waits. Bigger documents are serialised and written on a worker; meanwhile
`state.busy` is set ("Saving…") and every change is refused with a message: edits, Undo and Redo
(app/commands.py: ActionStack.locked), accepting and rejecting predictions (the worker serialises
the document as it is, the save then marks it saved, and an autosave's compaction header has the
decisions as they were when it began), and autosave runs on the timer only. Opening another
document, closing it or the window first waits for that write (`finish_writing`), so its result
lands on the document it wrote and a discarded journal is not compacted back.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, Qt, QTimer, Signal, Slot

from detr_core.coco import DiskChangedError
from detr_core.errors import DatasetError, WorkbenchError

from .journalling import JournalKeeper
from .opening import OpenResult, open_source
from .recovery import check_journal, existing_journals, journal_path, recover
from ..tasks import TaskRunner

log = logging.getLogger(__name__)

AUTOSAVE_SECONDS = 30
SMALL_DOCUMENT = 20_000  # boxes; above this, saving and autosave serialise on a worker
COMPACT_TIMEOUT = 60.0  # seconds an autosave waits for the journal writer
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
    autosave_failed = Signal(str)  # also: the journal cannot be written (one line)
    _journal_failed = Signal(str)  # from the journal's writer thread

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
        self.journal = JournalKeeper(on_first_edit=self._register, on_error=self._on_journal_error)
        state.undo_stack.actions = self.journal  # each undo step (and an accept) is one journal frame
        self._journal_failed.connect(self._on_journal_failed, Qt.ConnectionType.QueuedConnection)
        state.undo_stack.indexChanged.connect(self._on_undo_stack_index_changed)
        state.current_changed.connect(self._on_state_current_changed)

    # -- opening ----------------------------------------------------------------------------------
    def is_opening(self) -> bool:
        return self.runner.is_running("open")

    def open(self, path: str | os.PathLike, image_root=None, recover_sidecar: str | None = None) -> None:
        """Open asynchronously; `opened`/`open_failed` follow. `recover_sidecar`: load the
        autosave in place of the file right away (after a crash, when the user said so)."""
        self.finish_writing()
        if self.runner.is_running("open"):
            self.state.message.emit("Still opening the previous item…")
            return
        self.state.message.emit(f"Opening {path} …")
        self._pending["open"] = (str(path), recover_sidecar)

        def job():
            return self._open_job(path, image_root, recover_sidecar)

        self.runner.start("open", job)

    def _open_job(self, path, image_root, journal: str | None) -> tuple[OpenResult, Path | None]:
        """On the worker: open, then recover `journal` or look for one worth offering."""
        result = open_source(path, image_root)
        if journal:
            try:
                return recover(result, Path(journal)), None
            except DatasetError as e:  # the journal stays where it is
                result.warnings.append(f"{e}; opened the saved file instead")
                return result, None
        for found in existing_journals(result.target, self.fallback_dir):
            try:
                worth, note = check_journal(result, found, self.journal.settle)
            except (DatasetError, OSError) as e:
                worth, note = False, f"{found}: cannot recover from it ({e})"
            if note:
                result.warnings.append(note)
            if worth:
                return result, found
        return result, None

    def recover(self, sidecar: str) -> None:
        """Replace the open document by the recovered one (asked after `recovery_offered`)."""
        opened = self.opened_result
        if opened is None or self.runner.is_running("open"):
            return
        self._pending["open"] = (str(opened.source), sidecar)
        self.runner.start("open", lambda: (recover(opened, Path(sidecar)), None))

    def discard_recovery(self, sidecar: str) -> None:
        if self.journal.path == Path(sidecar):
            self.journal.discard()
        self._remove_sidecar(Path(sidecar))

    def _on_opened(self, opened: tuple[OpenResult, Path | None]) -> None:
        result, offer = opened
        self.opened_result, self.target = result, result.target
        self._changes = self._autosaved_changes = 0
        recovered = result.recovered_from is not None
        self.journal.attach(result.document, journal_path(result.target, self.fallback_dir),
                            result.target, recovered=recovered)
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
            self._autosaved_changes = -1  # compact into a fresh journal at the next chance
            return
        if offer is not None:
            self.recovery_offered.emit(str(result.target), str(offer))

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
        self.journal.before_save()
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

    def finish_writing(self) -> None:
        """Block until a running save or autosave of the document is written, and take its result
        (saved, marked saved and its journal restarted, or failed). Before anything replaces or
        drops the document: its completion then never lands on another document, and a
        compaction never writes a journal discarded after it began."""
        if self.runner.is_running("save") or self.runner.is_running("autosave"):
            self.runner.wait("save", "autosave")

    def _on_saved(self, target: Path) -> None:
        old_target = self.target
        self.target = target
        self.state.mark_saved()
        self.journal.saved(target, journal_path(target, self.fallback_dir))
        for t in {old_target, target}:
            if t is not None:
                self._write_registry([e for e in self._registry()
                                      if e.get("target") != str(t)])
        self.state.message.emit(f"Saved {target}")
        self.saved.emit(str(target))

    # -- autosave ---------------------------------------------------------------------------------
    @Slot()
    def autosave(self, on_image_change: bool = False) -> None:
        """Compact the journal (snapshot + empty journal) if there are edits since the last
        autosave; the writing is never on the GUI thread."""
        doc = self.state.document
        if doc is None or self.target is None or not self.state.is_dirty() or self.state.busy \
                or self._changes == self._autosaved_changes or self.runner.is_running() \
                or self.journal.journal is None:
            return
        small = self.is_small(doc)
        if on_image_change and not small:
            return  # big documents: on the timer only, so browsing never waits
        target, keeper, path = self.target, self.journal, self.journal.path
        extras = keeper.current_extras()  # the decisions on predictions change on this thread
        done = keeper.compact(target, extras) if small else None  # the snapshot, on this thread
        if not small:
            self.state.set_busy(True)  # edits wait while a worker takes the snapshot
        self._pending["autosave"] = (path, self._changes, small)

        def job():
            finished = done if done is not None else keeper.compact(target, extras)
            if not finished.wait(COMPACT_TIMEOUT):
                raise DatasetError(f"{path}: the journal writer did not answer in time")
            if keeper.journal is not None and keeper.journal.error:
                raise DatasetError(keeper.journal.error)
            return path

        self.runner.start("autosave", job)

    def sidecar_for(self, target: Path) -> Path:
        """Where the journal of `target` is written (kept under its old name for callers)."""
        return journal_path(target, self.fallback_dir)

    def discard_autosave(self) -> None:
        """The user closes without saving: the journal goes, and will not be offered again."""
        path = self.journal.path
        if self.journal.journal is not None:
            self.journal.discard()
        if path is not None:
            self._remove_sidecar(path)

    def _on_journal_error(self, message: str | None) -> None:
        if message is not None:
            self._journal_failed.emit(message)  # writer thread -> GUI thread

    @Slot(str)
    def _on_journal_failed(self, message: str) -> None:
        self.autosave_failed.emit(message)

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
        if self.journal.journal is not None:
            self.journal.journal.flush()

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
