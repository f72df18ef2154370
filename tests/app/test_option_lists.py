"""The choices the window offers are the ones the core accepts, all of them and nothing else:
model configs, training resolutions and devices come from detr_core, not from a copy."""
from __future__ import annotations

import pytest

from app.training.dialog import FineTuneDialog
from detr_core.data.transforms import RESOLUTION_CHOICES, RESOLUTIONS
from detr_core.devices import DEVICE_CHOICES, resolve_device
from detr_core.errors import DeviceError, WorkbenchError
from detr_core.model.config import PRESETS, preset
from detr_core.train.setup import pick_resolution


def _items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_the_fine_tune_dialog_offers_exactly_what_the_train_command_accepts(qtbot, window):
    dialog = FineTuneDialog(window.state, window)
    qtbot.addWidget(dialog)
    assert _items(dialog.config) == list(PRESETS)
    for name in _items(dialog.config):
        assert preset(name).num_queries > 0
    assert _items(dialog.resolution) == list(RESOLUTION_CHOICES) == ["auto", *RESOLUTIONS]
    for name in _items(dialog.resolution):
        assert pick_resolution(name, preset("tiny")).eval_size > 0
    with pytest.raises(WorkbenchError, match="unknown resolution"):
        pick_resolution("1024", preset("tiny"))
    _accepted_devices(_items(dialog.device))


def test_the_model_panel_offers_the_devices_the_core_resolves(window):
    combo = window.model_ui.panel.device
    _accepted_devices([combo.itemData(i) for i in range(combo.count())])


def _accepted_devices(names: list[str]) -> None:
    assert names == list(DEVICE_CHOICES)
    for name in names:  # known to the core: resolved here, or refused as absent, never as unknown
        try:
            resolve_device(name)
        except DeviceError as e:
            assert "not available" in str(e) and "unknown" not in str(e), e
    with pytest.raises(DeviceError, match="unknown"):
        resolve_device("tpu")
