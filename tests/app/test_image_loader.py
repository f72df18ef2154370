"""The decoder thread and its cache: EXIF orientation as detr_core applies it, prefetch, bounded
memory, skipped stale requests, one-line errors; and the refcount guard it all relies on."""
from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QImage

from app.document.image_loader import ImageLoader, pil_to_qimage
from app.thread_priority import WORKER_NICE
from detr_core.images import load_image
from workbench_helpers import make_images, thread_nice, thread_nice_of_main


def test_pictures_match_load_image_including_exif_orientation(qtbot, tmp_path):
    path = tmp_path / "rotated.jpg"
    pixels = np.zeros((40, 80, 3), dtype=np.uint8)
    pixels[:, :40] = (255, 0, 0)  # left half red, stored landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), quality=95)
    loader = ImageLoader()
    try:
        with qtbot.waitSignal(loader.loaded, timeout=5000) as got:
            loader.request(str(path))
        picture = got.args[1]
        reference = load_image(path)
        assert (picture.width(), picture.height()) == reference.size == (40, 80)  # portrait, as shown
        top = picture.pixelColor(20, 5)
        assert top.red() > 200 and top.green() < 60  # red ends up on top after the rotation
        assert picture.pixelColor(20, 5).rgb() == pil_to_qimage(reference).pixelColor(20, 5).rgb()
    finally:
        loader.shutdown()


def qimage_rgb(picture) -> np.ndarray:
    """A Format_RGB32 QImage's pixels as [H, W, 4] bytes (B, G, R, A on this machine)."""
    rows = np.frombuffer(picture.constBits(), np.uint8).reshape(picture.height(), picture.bytesPerLine())
    return rows[:, :4 * picture.width()].reshape(picture.height(), picture.width(), 4).copy()


@pytest.mark.skipif(sys.byteorder != "little", reason="the PIL-built path is for little-endian machines")
def test_pictures_equal_pil_pixel_for_pixel_opaque_and_own_their_memory():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(23, 37, 3), dtype=np.uint8)  # odd width: rows are not 16-aligned
    grey = rng.integers(0, 256, size=(9, 13), dtype=np.uint8)
    for source, expected in ((Image.fromarray(rgb), rgb), (Image.fromarray(grey), np.dstack([grey] * 3)),
                             (Image.fromarray(np.dstack([rgb, rgb[..., :1]])), rgb)):  # RGBA: alpha dropped
        picture = pil_to_qimage(source)
        del source
        gc.collect()
        junk = [bytes(4 * expected.size) for _ in range(8)]  # memory freed by now is reused
        assert picture.format() == QImage.Format.Format_RGB32
        pixels = qimage_rgb(picture)
        assert np.array_equal(pixels[..., 2::-1], expected), "R, G, B differ"
        assert (pixels[..., 3] == 255).all(), "Format_RGB32 wants 0xff in the unused byte"
        assert picture.pixelColor(3, 2).getRgb()[:3] == tuple(int(v) for v in expected[2, 3])
        del junk


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_the_decoder_thread_runs_below_the_gui_threads_priority(qtbot, tmp_path):
    [path] = make_images(tmp_path / "imgs", 1)
    gui_before = thread_nice_of_main()
    loader = ImageLoader()
    try:
        with qtbot.waitSignal(loader.loaded, timeout=5000):
            loader.request(str(path))
        assert thread_nice("image-decode") >= max(gui_before, WORKER_NICE)
        assert thread_nice_of_main() == gui_before  # the GUI thread keeps its own
    finally:
        loader.shutdown()


def test_prefetch_cache_is_bounded_and_cached_requests_answer_at_once(qtbot, tmp_path):
    paths = [str(p) for p in make_images(tmp_path / "imgs", 6, size=(100, 100))]
    loader = ImageLoader(max_items=3)
    try:
        with qtbot.waitSignals([loader.loaded, loader.loaded], timeout=5000):
            loader.request(paths[0], prefetch=[paths[1]])
        assert set(loader.cache_paths()) == {paths[0], paths[1]}
        got = []
        loader.loaded.connect(lambda path, picture: got.append(path))
        loader.request(paths[1])  # prefetched: answered synchronously, no decoding
        assert got == [paths[1]]
        for p in paths[2:]:
            with qtbot.waitSignal(loader.loaded, timeout=5000):
                loader.request(p)
        assert len(loader.cache_paths()) == 3 and paths[-1] in loader.cache_paths()
        assert loader.cache_bytes() == 3 * 100 * 100 * 4
        byte_bound = ImageLoader(max_items=10, max_bytes=2 * 100 * 100 * 4)
        for p in paths:
            with qtbot.waitSignal(byte_bound.loaded, timeout=5000):
                byte_bound.request(p)
        assert byte_bound.cache_bytes() <= 2 * 100 * 100 * 4
        byte_bound.shutdown()
    finally:
        loader.shutdown()


def test_requests_no_longer_wanted_are_skipped(qtbot, tmp_path):
    paths = [str(p) for p in make_images(tmp_path / "imgs", 8, size=(400, 300))]
    loader = ImageLoader()
    decoded = []
    loader._worker.decoded.connect(lambda path, picture: decoded.append(path))
    gate = threading.Event()
    blocking = loader._worker._is_wanted

    def slow_first(path):  # hold the worker on the first request while the user "presses D"
        gate.wait(5)
        return blocking(path)

    loader._worker._is_wanted = slow_first
    try:
        for p in paths:  # only the last one is still wanted when the worker gets to them
            loader.request(p)
        gate.set()
        qtbot.waitUntil(lambda: paths[-1] in loader.cache_paths(), timeout=5000)
        qtbot.wait(50)
        assert decoded == [paths[-1]]
    finally:
        loader.shutdown()


def test_unreadable_files_fail_with_one_line_naming_the_file(qtbot, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    loader = ImageLoader()
    try:
        with qtbot.waitSignal(loader.failed, timeout=5000) as got:
            loader.request(str(bad))
        assert got.args[0] == str(bad) and "broken.png" in got.args[1] and "\n" not in got.args[1]
        assert loader.cache_paths() == []
    finally:
        loader.shutdown()


def test_refcount_guard_keeps_long_sessions_alive(tmp_path):
    """PySide6 6.12 on CPython 3.11 drops a reference to None on every void call and to a bool on
    every emit; without app.refcount_guard this aborts the interpreter within seconds."""
    script = textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        import app  # installs the guard
        from PySide6.QtCore import QObject, Signal
        from PySide6.QtWidgets import QApplication, QWidget
        qapp = QApplication([])
        widget = QWidget()
        class Emitter(QObject):
            fired = Signal()
        emitter = Emitter()
        for _ in range(100_000):
            widget.setEnabled(True)
            emitter.fired.emit()
            qapp.processEvents()
        print("alive")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=str(tmp_path), env={**__import__("os").environ,
                                                    "PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[2])})
    assert result.returncode == 0, result.stderr[-500:]
    assert "alive" in result.stdout
