"""Decoding images off the GUI thread, with a small LRU cache and prefetch.

`ImageLoader` lives on the GUI thread and owns the cache; `ImageDecodeWorker` lives on its own
QThread and calls `detr_core.images.load_image` (the one EXIF-orientation rule), so the pixels
shown are the pixels the detector and the training data see. Requests that are no longer wanted
by the time the worker reaches them (the user pressed D five times quickly) are skipped.
"""
from __future__ import annotations

import logging
import sys
import threading
from typing import Callable, Iterable

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from detr_core.errors import ImageError
from detr_core.images import load_image
from detr_core.lru import LruCache

from ..thread_priority import start_below_gui

log = logging.getLogger(__name__)

DEFAULT_MAX_ITEMS = 6  # current + next + previous, and a few recently seen
DEFAULT_MAX_BYTES = 600 * 1024 * 1024  # bounded memory, even for 50-megapixel photos


def pil_to_qimage(image: Image.Image) -> QImage:
    """An 8-bit RGB PIL image -> an owned QImage in the format QPixmap shows without converting.

    Built with PIL and NumPy, which release the GIL while they copy, not with QImage's own
    convertToFormat: PySide holds the GIL through every Qt call, so converting a 12-megapixel photo
    there blocked the GUI thread for its 56 ms (issue 17, item 11)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    if sys.byteorder != "little":  # Format_RGB32's bytes are A, R, G, B here: let Qt convert
        data = rgb.tobytes("raw", "RGB")
        view = QImage(data, width, height, 3 * width, QImage.Format.Format_RGB888)
        return view.convertToFormat(QImage.Format.Format_RGB32)  # a deep copy; `data` may go
    # Format_RGB32 is one 0xffRRGGBB word per pixel: bytes B, G, R, 0xff on a little-endian machine.
    pixels = np.frombuffer(rgb.convert("RGBA").tobytes("raw", "BGRA"), np.uint8).reshape(height, 4 * width)
    picture = QImage(width, height, QImage.Format.Format_RGB32)  # Qt owns (and frees) its buffer
    if picture.isNull():
        return picture  # out of memory: the caller reports it
    rows = np.frombuffer(picture.bits(), np.uint8).reshape(height, picture.bytesPerLine())
    np.copyto(rows[:, :4 * width], pixels)
    return picture


class ImageDecodeWorker(QObject):
    """Decodes one path at a time on its own thread. Never touches a widget."""

    decoded = Signal(str, QImage)  # path, picture (EXIF applied, RGB32)
    failed = Signal(str, str)  # path, one-line message naming the file
    skipped = Signal(str)  # path no longer wanted when its turn came

    def __init__(self, is_wanted: Callable[[str], bool]):
        super().__init__()
        self._is_wanted = is_wanted

    @Slot(str)
    def decode(self, path: str) -> None:
        if not self._is_wanted(path):
            self.skipped.emit(path)
            return
        try:
            picture = pil_to_qimage(load_image(path))
        except ImageError as e:
            self.failed.emit(path, str(e))
            return
        except (OSError, ValueError, MemoryError) as e:  # anything PIL lets through
            log.exception("decoding %s failed", path)
            self.failed.emit(path, f"{path}: cannot decode image ({type(e).__name__}: {e})")
            return
        if picture.isNull():
            self.failed.emit(path, f"{path}: image could not be converted for display")
            return
        self.decoded.emit(path, picture)


class ImageLoader(QObject):
    """GUI-thread front of the decoder: `request(path, prefetch)` -> `loaded` or `failed`."""

    loaded = Signal(str, QImage)
    failed = Signal(str, str)
    _decode_requested = Signal(str)

    def __init__(self, max_items: int = DEFAULT_MAX_ITEMS, max_bytes: int = DEFAULT_MAX_BYTES,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._cache: LruCache[str, QImage] = LruCache(max_items, max_bytes, QImage.sizeInBytes)
        self._pending: set[str] = set()  # sent to the worker, no answer yet
        self._wanted: set[str] = set()
        self._lock = threading.Lock()  # guards _wanted, read by the worker thread
        self._thread = QThread()
        self._thread.setObjectName("image-decode")
        self._worker = ImageDecodeWorker(self._is_wanted)
        self._worker.moveToThread(self._thread)
        self._decode_requested.connect(self._worker.decode)
        self._worker.decoded.connect(self._on_worker_decoded)
        self._worker.failed.connect(self._on_worker_failed)
        self._worker.skipped.connect(self._on_worker_skipped)
        start_below_gui(self._thread)  # decoding yields the core to the GUI thread

    # -- public ---------------------------------------------------------------------------------
    def request(self, path: str, prefetch: Iterable[str] = ()) -> None:
        """Show `path` as soon as possible; decode `prefetch` afterwards if there is time.
        Emits `loaded` at once when `path` is cached."""
        prefetch = [p for p in prefetch if p and p != path]
        with self._lock:
            self._wanted = {path, *prefetch}
        for p in (path, *prefetch):
            picture = self._cache.get(p)
            if picture is not None:
                if p == path:
                    self.loaded.emit(p, picture)
            elif p not in self._pending:
                self._pending.add(p)
                self._decode_requested.emit(p)

    def cached(self, path: str) -> QImage | None:
        return self._cache.peek(path)

    def forget(self, path: str | None = None) -> None:
        """Drop one cached picture (the file changed) or all of them."""
        if path is None:
            self._cache.clear()
        else:
            self._cache.pop(path)

    def cache_bytes(self) -> int:
        return self._cache.total_bytes

    def cache_paths(self) -> list[str]:
        return self._cache.keys()

    def shutdown(self) -> None:
        with self._lock:
            self._wanted = set()
        self._thread.quit()
        self._thread.wait()

    # -- worker answers ---------------------------------------------------------------------------
    def _is_wanted(self, path: str) -> bool:
        with self._lock:
            return path in self._wanted

    @Slot(str, QImage)
    def _on_worker_decoded(self, path: str, picture: QImage) -> None:
        self._pending.discard(path)
        self._cache.put(path, picture)
        self.loaded.emit(path, picture)

    @Slot(str, str)
    def _on_worker_failed(self, path: str, message: str) -> None:
        self._pending.discard(path)
        self.failed.emit(path, message)

    @Slot(str)
    def _on_worker_skipped(self, path: str) -> None:
        self._pending.discard(path)
        if self._is_wanted(path):  # wanted again after the worker dropped it
            self._pending.add(path)
            self._decode_requested.emit(path)
