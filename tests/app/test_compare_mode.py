"""Compare mode in the window: two real checkpoints compared off the GUI thread on the open
labels; the dock's counts equal the `compare` command's, images come regressions first, both
panes draw the outcomes, a selected object shows both models' cross-attention, T toggles panes."""
from __future__ import annotations

import pytest

import json

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from detr_core.cli.main import main

from sample_helpers import DEMO, changed_demo_model, sample_subset
from workbench_helpers import open_and_wait


@pytest.mark.slow
def test_compare_mode_matches_the_command_and_shows_both_models(qtbot, window, tmp_path, capsys):
    gt_path, _ = sample_subset(tmp_path / "data", 6)
    changed = changed_demo_model(tmp_path / "changed.pth")
    open_and_wait(qtbot, window, gt_path)
    ui = window.compare_ui
    window.actions["compare_models"].trigger()
    assert ui.dock.isVisible()
    panel = ui.panel
    panel.set_models(str(DEMO), str(changed))
    with qtbot.waitSignal(ui.controller.finished, timeout=180_000):
        assert panel.start()
    assert not panel.run_button.isEnabled() or panel.comparison is not None

    report = tmp_path / "report.json"
    assert main(["compare", "--a", str(DEMO), "--b", str(changed), "--json", str(gt_path), "--out", str(report),
                 "--device", "cpu"]) == 0
    cli = json.loads(report.read_text())
    assert panel.counts() == cli["counts"]
    assert "AP50" in panel.summary.text()

    rows = panel.image_rows()
    assert [broke for _, broke in rows] == sorted((broke for _, broke in rows), reverse=True)
    assert sum(b for _, b in rows) == cli["counts"]["broke"] > 0

    # The first image (most regressions) is on show in both panes, coloured by outcome.
    qtbot.waitUntil(lambda: getattr(panel, "last_view", None) is not None
                    and panel.last_view.image_id == rows[0][0], timeout=60_000)
    drawn_b = {key for key, _tag in panel.panes.panes["b"].drawn}
    assert "broke" in drawn_b and panel.panes.panes["a"].drawn

    # An object both models found: both models' cross-attention for their queries, side by side.
    kept_image = next(r["image_id"] for r in panel.comparison.records if r["outcome"] == "kept")
    panel.image_table.selectRow([image_id for image_id, _ in rows].index(kept_image))
    qtbot.waitUntil(lambda: panel.last_view.image_id == kept_image, timeout=60_000)
    table = panel.object_table
    both = next(r for r in range(table.rowCount())
                if (rec := table.item(r, 0).data(Qt.ItemDataRole.UserRole)).get("a") and rec.get("b"))
    table.selectRow(both)
    qtbot.waitUntil(lambda: panel.last_view.heatmap_a is not None and panel.last_view.heatmap_b is not None,
                    timeout=60_000)

    # T flips between the two panes side by side and one pane at a time.
    panel.image_table.setFocus()
    assert panel.panes.mode() == "A | B"
    QTest.keyClick(panel.image_table, Qt.Key.Key_T)
    assert panel.panes.mode() == "A" and not panel.panes.panes["b"].isVisible()
    QTest.keyClick(panel.image_table, Qt.Key.Key_T)
    assert panel.panes.mode() == "B" and panel.panes.panes["b"].isVisible()


def test_compare_mode_says_why_it_cannot_start(qtbot, window):
    panel = window.compare_ui.panel
    assert not panel.start()
    assert "choose both models" in panel.summary.text()
