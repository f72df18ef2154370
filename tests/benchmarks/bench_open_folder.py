"""Benchmark (run by hand, not a test): open a folder of 10,000 images in the real window and
time how long until the first image is on screen; then browse and watch memory.

    .venv/bin/python -m tests.benchmarks.bench_open_folder                 # 10,000 new 160x120 JPEGs
    .venv/bin/python -m tests.benchmarks.bench_open_folder --dir PHOTOS    # an existing folder
    .venv/bin/python -m tests.benchmarks.bench_open_folder --size 4000x3000 --count 2000

Runs offscreen unless QT_QPA_PLATFORM says otherwise. Prints a table of milliseconds.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_folder(folder: Path, count: int, size: tuple[int, int]) -> None:
    """`count` JPEGs in 100 subfolders (listing is recursive), made from a few random tiles."""
    rng = np.random.default_rng(0)
    tiles = [Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)) for _ in range(8)]
    for i in range(count):
        sub = folder / f"part{i % 100:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        tiles[i % len(tiles)].save(sub / f"img{i:05d}.jpg", quality=80)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="an existing folder of images (default: make one)")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--size", default="160x120", help="WxH of generated images")
    parser.add_argument("--browse", type=int, default=200, help="images to step through with D")
    args = parser.parse_args()

    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from app.main_window import MainWindow

    tmp = tempfile.TemporaryDirectory(prefix="bench-open-")
    folder = args.dir
    rows = []
    if folder is None:
        folder = Path(tmp.name) / "images"
        width, height = (int(v) for v in args.size.lower().split("x"))
        t0 = time.perf_counter()
        make_folder(folder, args.count, (width, height))
        rows.append((f"make {args.count} {width}x{height} JPEGs (set-up, not timed)", (time.perf_counter() - t0) * 1e3))

    settings = QSettings(str(Path(tmp.name) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, autosave_seconds=3600)
    window.session.fallback_dir = Path(tmp.name) / "autosave"
    window.show()
    app.processEvents()
    state = window.state
    marks: dict[str, float] = {}
    state.document_opened.connect(lambda: marks.setdefault("listed", time.perf_counter()))
    state.image_loaded.connect(lambda row, picture: marks.setdefault("shown", time.perf_counter()))

    def spin(until, timeout=60.0):
        deadline = time.perf_counter() + timeout
        while not until() and time.perf_counter() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)

    rss_before = rss_mb()
    start = time.perf_counter()
    window.session.open(str(folder))
    spin(lambda: "shown" in marks)
    app.processEvents()  # the first paint
    painted = time.perf_counter()
    n = state.row_count()
    rows.append((f"open folder -> list of {n} images installed", (marks["listed"] - start) * 1e3))
    rows.append(("open folder -> first image shown", (marks["shown"] - start) * 1e3))
    rows.append(("open folder -> first image painted", (painted - start) * 1e3))

    steps = min(args.browse, n - 1)
    t0 = time.perf_counter()
    for _ in range(steps):
        shown_row = state.current_row + 1
        state.go_next()
        spin(lambda: state.current_image is not None and state.current_row == shown_row)
    per_image = (time.perf_counter() - t0) * 1e3 / max(steps, 1)
    rows.append((f"D (next image, prefetched) x{steps}: mean per image", per_image))
    cache_mb = state.loader.cache_bytes() / 2**20
    rows.append((f"decoded-image cache after browsing: {len(state.loader.cache_paths())} images, MB", cache_mb))
    rows.append(("peak RSS before open / after browsing, MB", 0.0))

    width = max(len(r[0]) for r in rows)
    print(f"\n{'phase'.ljust(width)}  {'ms':>9}")
    print("-" * (width + 11))
    for label, value in rows[:-1]:
        print(f"{label.ljust(width)}  {value:9.1f}")
    print(f"{rows[-1][0].ljust(width)}  {rss_before:5.0f} / {rss_mb():.0f}")
    state.undo_stack.setClean()
    window.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
