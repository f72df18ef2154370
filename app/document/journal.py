"""The write-ahead journal of a document's edits: `<name>.json.journal`, next to the file Save
writes (no Qt; the writing happens on the journal's own thread, never the caller's).

File format: one frame per line, `<byte length> <crc32 as 8 hex digits> <compact JSON>\\n`. The
first frame is the header: {"journal": 2, "target", "image_root", "base": the saved file's
{size, mtime_ns, sha256} or null, "session": CocoDocument.memory.session_state(), and "snapshot": the
whole COCO object when the file on disk is not the starting point}. Every further frame is one
user action: one record (an edit as `detr_core.coco.changes.encode` makes it, or an extra:
replay.py), or {"action": [record, ...]} for an action that wrote several (a box moved and its image marked
edited; an accept: its boxes, its image's status, its decisions). A reader stops at the first frame
whose length or checksum is wrong: a crash in the middle of an append leaves at most that one torn
line, so an action is read whole or not at all. Version 1 journals (written before actions were
framed: one record per frame) read the same way.

Timing: `append` frames the record (`append_action`: an action's records) on the caller's thread
(the document's live dicts change with the next edit) and queues it; the writer thread writes it
at once (`os.write`: a SIGKILL of the process after that loses nothing) and fsyncs at most every
`flush_seconds` (0.2 s), so after a power cut at most the last 0.2 s are gone.

Lifecycle, all in queue order, so no edit ever lands on the wrong side of a compaction:
- `Journal(path, header)`: the journal of a freshly opened or recovered document. No file is
  written until the first edit (opening a folder leaves nothing behind); the first edit replaces
  whatever journal was there in one rename (after a recovery the header holds its snapshot).
- `start(header, remove_old=True)`: after a save: the old journal is removed at once, the next edit
  starts a new one on this header.
- `compact(header)`: the autosave. The header carries a snapshot of the document; it is written to
  a temporary file, fsynced and renamed over the journal in one step, so the journal is at every
  moment either the old one or the compacted one.
- `discard()`: the work was saved elsewhere or deliberately thrown away: the file goes.
A write error (disk full, folder gone read-only) truncates the file back to its last whole frame,
keeps the failed frames and retries them with the next edit; `on_error` gets one line naming the
file (None once writing works again).
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2
SUFFIX = ".journal"
VERSION = 2  # 2: a frame may hold one action's records; 1: one record per frame
READABLE = (1, 2)


def frame(obj) -> bytes:
    """One journal line: length, checksum, JSON."""
    payload = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    return b"%d %08x " % (len(payload), zlib.crc32(payload)) + payload + b"\n"


@dataclass
class JournalContents:
    header: dict
    records: list[dict] = field(default_factory=list)
    torn: bool = False  # a damaged or cut-off line was found (and everything from it skipped)
    good_bytes: int = 0  # length of the readable part


def parse(raw: bytes) -> tuple[list, int, bool]:
    """The frames in `raw`, the length of the whole frames, and whether anything followed them."""
    frames, pos = [], 0
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        line = raw[pos:end] if end >= 0 else b""
        parts = line.split(b" ", 2)
        try:
            length, crc = int(parts[0]), int(parts[1], 16)
            payload = parts[2]
            if len(payload) != length or zlib.crc32(payload) != crc:
                raise ValueError("damaged")
            frames.append(json.loads(payload))
        except (ValueError, IndexError):  # json.JSONDecodeError is a ValueError
            return frames, pos, True
        pos = end + 1
    return frames, pos, False


def read_journal(path: Path) -> JournalContents:
    """Read a journal; ValueError (one line naming it) when not even the header is readable."""
    raw = Path(path).read_bytes()
    frames, good, torn = parse(raw)
    if not frames or not isinstance(frames[0], dict) or frames[0].get("journal") not in READABLE:
        raise ValueError(f"{path}: not a readable edit journal")
    records = []
    for item in frames[1:]:  # an action's records, in order, as if each had a frame
        action = item.get("action") if isinstance(item, dict) else None
        records.extend(action if isinstance(action, list) else [item])
    return JournalContents(frames[0], records, torn, good)


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


class Journal:
    """Appends edit records to `path` from a background thread. Thread-safe."""

    def __init__(self, path: Path, header: dict, *, flush_seconds: float = FLUSH_SECONDS,
                 on_error: Callable[[str | None], None] | None = None):
        self.path = Path(path)
        self.flush_seconds = flush_seconds
        self.on_error = on_error
        self.error: str | None = None
        self.records_since_compaction = 0  # edits not yet in a snapshot or a saved file
        self._cond = threading.Condition()
        self._queue: list[tuple[str, object, threading.Event | None]] = []
        self._closing = False
        self._fd: int | None = None
        self._header = frame(header)  # written before the first record of a fresh file
        self._retry: list[bytes] = []  # frames a write error kept back
        self._unsynced = False
        self._last_sync = 0.0
        self._thread = threading.Thread(target=self._run, name=f"journal {self.path.name}",
                                        daemon=True)
        self._thread.start()

    # -- the caller's side --------------------------------------------------------------------
    def start(self, header: dict, remove_old: bool = True) -> None:
        self._put("start" if remove_old else "header", frame(header))
        self.records_since_compaction = 0

    def append(self, record: dict) -> None:
        self._put("record", frame(record))
        self.records_since_compaction += 1

    def append_action(self, records: list[dict]) -> None:
        """The records of one user action, as one frame: a reader gets all of them or none."""
        if records:
            self._put("record", frame(records[0] if len(records) == 1 else {"action": records}))
            self.records_since_compaction += len(records)

    def compact(self, header: dict) -> threading.Event:
        """Queue a compaction; the returned event is set once it is on disk (or has failed)."""
        done = threading.Event()
        self._put("compact", frame(header), done)
        self.records_since_compaction = 0
        return done

    def discard(self) -> threading.Event:
        done = threading.Event()
        self._put("discard", None, done)
        self.records_since_compaction = 0
        return done

    def written(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued is written (not fsynced: a killed process loses nothing
        written). False on timeout."""
        done = threading.Event()
        self._put("mark", None, done)
        return done.wait(timeout)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued is written and fsynced. False on timeout."""
        done = threading.Event()
        self._put("sync", None, done)
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write and fsync what is queued, then stop the thread (the file stays)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    def _put(self, kind: str, payload, done: threading.Event | None = None) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError(f"{self.path}: journal is closed")
            self._queue.append((kind, payload, done))
            self._cond.notify()

    # -- the writer thread --------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing and not self._sync_due():
                    self._cond.wait(self._wait_time())
                items, self._queue = self._queue, []
                closing = self._closing
            for kind, payload, done in items:
                self._do(kind, payload)
                if kind == "sync":
                    self._sync()
                if done is not None:
                    done.set()
            if self._unsynced and (closing or self._sync_due()):
                self._sync()
            if closing and not self._queue:
                self._close_fd()
                return

    def _wait_time(self) -> float | None:
        if not self._unsynced:
            return None
        return max(0.0, self._last_sync + self.flush_seconds - time.monotonic())

    def _sync_due(self) -> bool:
        return self._unsynced and time.monotonic() >= self._last_sync + self.flush_seconds

    def _do(self, kind: str, payload) -> None:
        try:
            if kind in ("start", "header"):
                self._close_fd()
                if kind == "start":
                    self._unlink()
                self._header, self._retry = payload, []
            elif kind == "record":
                self._retry.append(payload)
                self._write_pending()
            elif kind == "compact":
                self._replace(payload)
            elif kind == "discard":
                self._close_fd()
                self._unlink()
                self._retry = []
            else:
                return
        except OSError as e:
            self._failed(f"{self.path}: cannot write the edit journal ({_reason(e)}); your edits "
                         "are still open — save them to keep them")
        else:
            if self.error is not None and not self._retry:
                self._failed(None)

    def _write_pending(self) -> None:
        if self._fd is None:
            self._replace(self._header, keep_retry=True)
            return
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            data = b"".join(self._retry)
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError:
            os.ftruncate(self._fd, start)  # no torn frame in the middle of the file
            raise
        self._retry = []
        self._unsynced = True

    def _replace(self, header: bytes, keep_retry: bool = False) -> None:
        """Make the journal `header` (+ the frames kept back) in one rename."""
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            data = header + (b"".join(self._retry) if keep_retry else b"")
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
            os.replace(tmp, self.path)
        except BaseException:
            os.close(fd)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self._close_fd()
        self._fd = fd
        self._header = header
        self._retry = []  # written, or (a compaction) already in the snapshot
        _fsync_folder(self.path.parent)
        self._unsynced, self._last_sync = False, time.monotonic()

    def _sync(self) -> None:
        if self._fd is not None and self._unsynced:
            try:
                os.fsync(self._fd)
            except OSError as e:
                self._failed(f"{self.path}: cannot flush the edit journal ({_reason(e)})")
        self._unsynced, self._last_sync = False, time.monotonic()

    def _failed(self, message: str | None) -> None:
        if message is not None:
            log.warning("%s", message)
        first = message is not None and self.error is None
        self.error = message
        if self.on_error is not None and (first or message is None):
            self.on_error(message)

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _unlink(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
