"""The Runs list after a restart: remembered runs are listed with their final numbers side by
side; selecting one shows its metrics and curves, ticking one overlays its curves, and Use This
Model goes to its weights. The run folders are written with detr_core.train.events (the contract)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from detr_core.train.events import EpochDone, EvalDone, RunEnded, RunStarted, StepDone
from training_helpers import job_question, train_window  # noqa: F401


def write_run(folder, ap: float, status: str = "completed", steps: int = 4):
    folder.mkdir(parents=True)
    metrics = {"AP": ap, "AP50": 2 * ap, "AP75": ap / 2, "APs": None, "per_class": {"cat": ap}}
    events = [RunStarted(run_dir=str(folder), resumed=False, epochs=2, steps_per_epoch=steps // 2, total_steps=steps,
                         start_epoch=1, start_step=0, batch_size=2, world_size=1, device="cpu", train_images=4,
                         val_images=1, class_names=["cat"], model_config={}, train_config={}, base="tiny")]
    for n in range(1, steps + 1):
        events.append(StepDone(epoch=(n - 1) // 2 + 1, epoch_step=(n - 1) % 2 + 1, steps_per_epoch=2, step=n,
                               total_steps=steps, loss=5.0 - n, losses={"loss_ce": 1.0, "loss_bbox": 0.5,
                                                                        "loss_giou": 0.4},
                               lr=1e-4, lr_backbone=1e-5, grad_norm=1.0, images_per_s=2, elapsed_s=n, eta_s=1))
        if n % 2 == 0:
            events.append(EvalDone(epoch=n // 2, step=n, metrics=metrics, images=1, duration_s=1))
            events.append(EpochDone(epoch=n // 2, epochs=2, step=n, total_steps=steps, loss=5.0 - n, losses={},
                                    duration_s=1, images_per_s=2, eta_s=1, metrics=metrics))
    events.append(RunEnded(status, 2, steps, steps, 9.0, metrics, str(folder / "checkpoint.pth"), None))
    (folder / "metrics.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    (folder / "checkpoint.pth").write_bytes(b"weights")
    return folder


@pytest.fixture
def remembered(settings, tmp_path):
    """Two runs of an earlier session in the settings (and a folder since deleted)."""
    a, b = write_run(tmp_path / "a", 0.25), write_run(tmp_path / "b", 0.5, status="stopped")
    settings.setValue("training/runs", [str(b), str(a), str(tmp_path / "gone")])
    return a, b


def test_remembered_runs_are_listed_compared_selected_and_overlaid(qtbot, remembered, train_window):
    a, b = remembered
    training, panel = train_window.state.training, train_window.training_ui.panel
    table = panel.history.table
    assert table.rowCount() == 2  # the deleted folder is not listed
    rows = [[table.item(r, c).text() for c in range(8)] for r in range(2)]
    assert rows[0] == ["b", "stopped", "2/2", "4/4", "1.000", "50.0", "100.0", "25.0"]
    assert rows[1][:2] == ["a", "completed"] and rows[1][5] == "25.0"
    assert not training.runs[0].complete  # listed without reading every step

    table.selectRow(1)
    assert training.selected.run_dir == a and training.selected.complete
    assert panel.metrics.values()["AP"] == "25.0" and panel.metrics.values()["AP cat"] == "25.0"
    panel.plots.redraw()  # no job this session: the selected run is drawn
    assert list(panel.plots.item("loss").getData()[1]) == [4.0, 3.0, 2.0, 1.0]
    assert train_window.actions["resume_training"].isEnabled() is False  # a completed run

    table.item(0, 0).setCheckState(Qt.CheckState.Checked)  # overlay b
    assert list(training.overlays) == [str(b)]
    loss_b, epoch_b, ap_b = panel.plots.overlay_items(str(b))
    assert len(loss_b.getData()[0]) == 4 and list(ap_b.getData()[1]) == [0.5, 0.5]
    table.item(0, 0).setCheckState(Qt.CheckState.Unchecked)
    assert training.overlays == {} and panel.plots.overlay_items(str(b)) == []

    table.selectRow(0)  # the stopped run: Resume continues it, Use This Model loads its checkpoint
    assert train_window.actions["resume_training"].isEnabled()
    assert train_window.actions["use_trained_model"].isEnabled() and training.selected.model_path == b / "checkpoint.pth"
