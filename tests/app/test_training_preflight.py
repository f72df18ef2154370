"""The fine-tune dialog's preflight, recipe and expected time, through its widgets, with the real
`detr-workbench preflight` in a child process: Start checks first; errors (or a check that could
not run) turn Start into "Start anyway" and only that second press starts the run; a clean check
starts it at once; Cancel stops a check; a changed form checks again; the one-batch overfit's time
per step gives the expected time; the recipe's lines follow the data and the starting model."""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from app.training.dialog import START, START_ANYWAY
from app.training.expectation import StepTime, estimate_seconds, steps_per_epoch
from model_helpers import wait_model
from training_helpers import (PREFLIGHT_TIMEOUT, fill_fast, job_question, make_dataset, open_dialog,  # noqa: F401
                              train_window, wait_finished)
from workbench_helpers import open_and_wait

from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "demo.pth"


@pytest.fixture
def shapes(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("shapes"), images=6)


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def results_of(dialog) -> list:
    found: list = []
    dialog.preflight.finished.connect(found.append)
    return found


def check(qtbot, dialog, button) -> object:
    """Press `button` (Start or Check data) and wait for the preflight's result."""
    with qtbot.waitSignal(dialog.preflight.finished, timeout=PREFLIGHT_TIMEOUT) as blocker:
        click(qtbot, button)
        assert "Checking the data" in dialog.preflight_view.status.text()
        assert dialog.preflight_view.cancel_button.isVisible() and not dialog.start_button.isEnabled()
    return blocker.args[0]


def stop_job(qtbot, training) -> None:
    training.kill()
    wait_finished(qtbot, training, timeout=60_000)


@pytest.mark.slow
def test_errors_turn_start_into_start_anyway_and_only_that_press_starts(qtbot, train_window, tmp_path, shapes):
    window, training = train_window, train_window.state.training
    open_and_wait(qtbot, window, shapes)
    dialog = open_dialog(qtbot, window)
    fill_fast(dialog, tmp_path / "run")
    dialog.validation.setCurrentIndex(1)  # validating on the training file itself: a preflight error
    dialog.val_json.setText(str(shapes))
    dialog.refresh()
    assert dialog.start_button.isEnabled() and dialog.start_button.text() == START, dialog.problems.text()
    result = check(qtbot, dialog, dialog.start_button)
    assert result.status == "errors" and training.job is None and not training.busy
    lines = dialog.preflight_view.lines()
    assert lines[0].startswith("✖ error: ") and "validation images are also training images" in lines[0]
    assert dialog.preflight_view.findings.item(0).foreground().color().name() == "#b00020"
    assert any(line.startswith("⚠ warning: ") for line in lines)  # the synthetic shapes' thin classes
    assert dialog.start_button.text() == START_ANYWAY and dialog.start_button.isEnabled()
    assert not dialog.preflight_view.cancel_button.isVisible()
    for hint in (dialog.sizeHint(), dialog.minimumSizeHint()):  # the findings scroll: it fits 1366x768
        assert hint.width() <= 1366 and hint.height() <= 768 - 40, hint

    dialog.resolution.setCurrentText("256")  # another form: the result does not stand for it
    dialog.refresh()
    assert dialog.start_button.text() == START and dialog.preflight_view.lines() == []
    assert "changed since the preflight" in dialog.preflight_view.status.text()
    dialog.resolution.setCurrentText("192")  # the form checked: its result again
    dialog.refresh()
    assert dialog.start_button.text() == START_ANYWAY and dialog.preflight_view.lines() == lines

    with qtbot.waitSignal(training.job_started, timeout=60_000):
        click(qtbot, dialog.start_button)
    assert "--preflight" not in training.log[0]  # the dialog checked, and the user chose to go on
    stop_job(qtbot, training)


@pytest.mark.slow
def test_a_clean_check_starts_the_run_on_one_press(qtbot, train_window, tmp_path, shapes):
    window, training = train_window, train_window.state.training
    open_and_wait(qtbot, window, shapes)
    dialog = open_dialog(qtbot, window)
    fill_fast(dialog, tmp_path / "run")
    found = results_of(dialog)
    with qtbot.waitSignal(training.job_started, timeout=PREFLIGHT_TIMEOUT):
        click(qtbot, dialog.start_button)
    assert [r.status for r in found] == ["passed"] and not found[0].errors
    assert {f.severity for f in found[0].findings} <= {"warning", "ok"}
    stop_job(qtbot, training)


@pytest.mark.slow
def test_cancel_stops_the_check_and_an_edit_of_the_annotations_voids_a_result(qtbot, train_window, tmp_path, shapes):
    window, training = train_window, train_window.state.training
    open_and_wait(qtbot, window, shapes)
    dialog = open_dialog(qtbot, window)
    fill_fast(dialog, tmp_path / "run")
    found = results_of(dialog)
    click(qtbot, dialog.start_button)
    assert dialog.preflight_view.cancel_button.isVisible()
    click(qtbot, dialog.preflight_view.cancel_button)
    assert [r.status for r in found] == ["cancelled"] and "cancelled" in dialog.preflight_view.status.text()
    assert dialog.start_button.isEnabled() and dialog.start_button.text() == START
    qtbot.wait(300)
    assert training.job is None and not training.busy and len(found) == 1  # nothing ran on

    check(qtbot, dialog, dialog.check_button)  # Check data: the result, and no run
    assert found[-1].status == "passed" and training.job is None
    assert dialog.preflight.result_for(dialog.form_key()) is found[-1]
    window.state.annotations_changed.emit(window.state.document.images[0]["id"])  # an edit meanwhile
    dialog.refresh()
    assert dialog.preflight.result_for(dialog.form_key()) is None
    assert "changed since the preflight" in dialog.preflight_view.status.text()


def test_a_check_that_cannot_run_names_the_file_and_leaves_start_anyway(qtbot, train_window, tmp_path, shapes):
    window = train_window
    open_and_wait(qtbot, window, shapes)
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"\x00 not a checkpoint at all")
    dialog = open_dialog(qtbot, window)
    fill_fast(dialog, tmp_path / "run", checkpoint=str(bad))
    result = check(qtbot, dialog, dialog.start_button)
    assert result.status == "failed"
    line = dialog.preflight_view.lines()[0]
    assert line.startswith("✖ error: ") and str(bad) in line and "not a PyTorch checkpoint" in line
    assert "\n" not in line and "could not run" in dialog.preflight_view.status.text()
    assert dialog.start_button.text() == START_ANYWAY and window.state.training.job is None


@pytest.mark.slow
def test_the_overfit_measures_the_step_and_the_dialog_shows_the_expected_time(qtbot, train_window, tmp_path, shapes):
    window, training = train_window, train_window.state.training
    open_and_wait(qtbot, window, shapes)
    dialog = open_dialog(qtbot, window)
    fill_fast(dialog, tmp_path / "run", epochs=30)
    dialog.overfit.setChecked(True)
    dialog.refresh()
    steps = steps_per_epoch(len(dialog.plan.train_ids), 2)
    assert dialog.expected.text() == f"30 epochs × {steps} steps; time per step: measured by the preflight " \
                                     "(its one-batch overfit)."
    result = check(qtbot, dialog, dialog.check_button)
    assert training.job is None  # Check data never starts the run
    step = StepTime.of(result.measured)
    assert step is not None and step.images_per_step == 2, result
    minutes = max(1, round(estimate_seconds(30, steps, step.for_batch(2)) / 60))
    assert dialog.expected.text().startswith(f"~{minutes} minute")
    assert f"(30 epochs × {steps} steps)" in dialog.expected.text()
    dialog.batch_size.setValue(1)  # the same measure, scaled to the run's batch
    dialog.refresh()
    minutes = max(1, round(estimate_seconds(30, steps_per_epoch(len(dialog.plan.train_ids), 1), step.for_batch(1)) / 60))
    assert dialog.expected.text().startswith(f"~{minutes} minute")
    dialog.config.setCurrentText("small")  # another model: its step is not measured
    dialog.refresh()
    assert "measured by the preflight" in dialog.expected.text()


def test_the_recipe_follows_the_data_and_the_starting_model(qtbot, train_window, tmp_path):
    window = train_window
    data = make_dataset(tmp_path / "shapes", images=6)
    coco = json.loads(data.read_text())
    coco["categories"][3]["name"] = "kite"  # a class the demo model does not know
    data.write_text(json.dumps(coco))
    open_and_wait(qtbot, window, data)
    dialog = open_dialog(qtbot, window)
    dialog.run_dir.setText(str(tmp_path / "run"))
    dialog.refresh()
    assert dialog.timed.isChecked() and dialog.from_scratch.isChecked()  # no model loaded: from scratch
    plan = dialog.plan
    lines = dialog.recipe.toPlainText().splitlines()
    assert lines[0] == f"recipe for {len(plan.train_ids)} images, {plan.train_boxes} boxes, 5 classes, from scratch"
    assert "  time_budget_s = 600.0 (given)" in lines and dialog.expected.text() == \
        "Ends in 10 minutes, with its best model."
    # the recipe chooses the loader workers too (none for a small set): the dialog does not override it
    assert not dialog.workers.isEnabled() and dialog.options().workers is None
    assert any(line.startswith("  num_workers = 0:") for line in lines), lines
    dialog.minutes.setValue(5)
    dialog.refresh()
    assert "  time_budget_s = 300.0 (given)" in dialog.recipe.toPlainText().splitlines()
    assert dialog.expected.text() == "Ends in 5 minutes, with its best model."

    dialog.from_scratch.setChecked(False)
    dialog.checkpoint.setText(str(DEMO))  # not loaded in the window: its classes are not known here
    dialog.refresh()
    lines = dialog.recipe.toPlainText().splitlines()
    assert "from scratch" not in lines[0] and lines[-1].startswith("new classes: known at start")
    assert any(line.startswith("  lr_backbone = 0.0001: ") for line in lines), lines  # backbone not known
    window.state.model.load(str(DEMO))
    wait_model(qtbot, window, DEMO, timeout=60_000)
    dialog.refresh()
    lines = dialog.recipe.toPlainText().splitlines()
    assert lines[0].endswith("5 classes (1 new)") and not lines[-1].startswith("new classes")
    # the loaded demo model's resnet18: the lr the run will choose for it (as `train` prints it)
    assert any(line.startswith("  lr_backbone = 0.001: ") for line in lines), lines

    dialog.timed.setChecked(False)  # the reference recipe with the dialog's own numbers: no recipe box
    dialog.refresh()
    assert not dialog.recipe.isVisible() and "epochs × " in dialog.expected.text()
