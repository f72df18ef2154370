"""Helpers for the model tests: a tiny real checkpoint, pictures of shapes, and waits on the
model's public signals (never sleeps)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

CLASS_NAMES = ["circle", "square", "triangle"]


def make_checkpoint(path: Path, seed: int = 0) -> Path:
    """A tiny DETR (random weights) whose queries differ enough to give varied classes and
    scores: the query embeddings are scaled up, so each query sees a different position code."""
    from detr_core.checkpoints import save_checkpoint
    from detr_core.model.config import preset
    from detr_core.model.detr import build

    config = preset("tiny", num_classes=len(CLASS_NAMES))
    torch.manual_seed(seed)
    model = build(config)
    with torch.no_grad():
        model.query_embed.weight.mul_(10)
    save_checkpoint(path, model, config, CLASS_NAMES, metadata={"note": "test model"})
    return path


def make_shapes(folder: Path, count: int = 3, size=(200, 150)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        image = Image.new("RGB", size, (30 + 10 * i, 60, 90))
        draw = ImageDraw.Draw(image)
        draw.ellipse((20 + 5 * i, 20, 90 + 5 * i, 90), fill=(220, 80, 60))
        draw.rectangle((110, 50, 180, 130), fill=(60, 200, 90))
        path = folder / f"shape{i + 1}.png"
        image.save(path)
        paths.append(path)
    return paths


def model_settings(settings, checkpoint: Path, threshold: float = 0.15) -> None:
    """What a returning user has: this checkpoint remembered (loaded at start), a threshold."""
    settings.setValue("model/checkpoint", str(checkpoint))
    settings.setValue("model/threshold", threshold)
    settings.setValue("model/device", "cpu")
    settings.setValue("model/threads", 1)  # a shared 2-core machine: no oversubscription


def wait_model(qtbot, window, source: Path | str, timeout: int = 20_000) -> None:
    model = window.state.model
    qtbot.waitUntil(lambda: model.info is not None and model.info.source == str(source) and not model.loading,
                    timeout=timeout)


def wait_attention(qtbot, window, timeout: int = 20_000) -> None:
    """Until the image on screen has its full detections, with attention maps."""
    def ready() -> bool:
        detections = window.state.model.current_detections()
        return detections is not None and detections.attention is not None

    qtbot.waitUntil(ready, timeout=timeout)


def image_array(image) -> np.ndarray:
    """A QImage as [H, W, 3] uint8 RGB."""
    from PySide6.QtGui import QImage

    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = rgb.width(), rgb.height()
    data = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=rgb.sizeInBytes())
    return data.reshape(height, rgb.bytesPerLine())[:, : 3 * width].reshape(height, width, 3).copy()


# -- fixtures (imported by the test modules) ------------------------------------------------------
import pytest  # noqa: E402

from workbench_helpers import close_window, make_window, open_and_wait, save_and_wait  # noqa: E402


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pth")


@pytest.fixture
def model_window(qtbot, settings, tmp_path, dialogs, checkpoint):
    """The window of a user whose last checkpoint was the tiny model: it loads at start."""
    model_settings(settings, checkpoint)
    win = make_window(qtbot, settings, tmp_path, load_model=True)
    wait_model(qtbot, win, checkpoint)
    yield win
    close_window(win, dialogs)


def saved_shapes_with_model(qtbot, window, dialogs, tmp_path):
    """Two synthetic images opened in the model window, the first detected, saved as
    shapes/annotations.json (the path returned): the start of the recovery tests."""
    folder = make_shapes(tmp_path / "shapes", 2)[0].parent
    open_and_wait(qtbot, window, folder)
    wait_attention(qtbot, window)
    target = folder / "annotations.json"
    dialogs.save_path = str(target)
    save_and_wait(qtbot, window)
    return target
