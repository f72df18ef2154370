"""Jobs that go wrong, with the real train command: a crash (non-zero exit) shows its last lines
and is marked failed; a non-finite loss stops the job with its message; a killed job is marked
failed; the dialog refuses unusable data with the reason; closing the window over a job asks."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest
from PySide6.QtWidgets import QMessageBox

from detr_core.train.events import RunStarted, StepDone
from training_helpers import (JOB_TIMEOUT, events_of, fill_fast, job_question, make_dataset, open_dialog,  # noqa: F401
                              start, train_window, wait_finished)
from workbench_helpers import open_and_wait


@pytest.fixture
def shapes(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("shapes"), images=6)


def start_job_until(qtbot, window, shapes, run, epochs, event_type):
    """Open the data, start a job from the dialog, return once it sent an `event_type` event."""
    training = window.state.training
    open_and_wait(qtbot, window, shapes)
    dialog = open_dialog(qtbot, window)
    fill_fast(dialog, run, epochs=epochs)
    start(qtbot, dialog, training)
    with qtbot.waitSignal(training.event_received, timeout=JOB_TIMEOUT,
                          check_params_cb=lambda e: isinstance(e, event_type)):
        pass


@pytest.mark.slow
def test_a_crashing_job_shows_its_last_lines_and_is_marked_failed(qtbot, train_window, tmp_path, shapes):
    window, training = train_window, train_window.state.training
    open_and_wait(qtbot, window, shapes)
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"\x00 not a checkpoint at all")
    dialog = open_dialog(qtbot, window)
    fill_fast(dialog, tmp_path / "run", checkpoint=str(bad))
    start(qtbot, dialog, training)
    outcome = wait_finished(qtbot, training)
    assert outcome.status == "failed" and outcome.exit_code == 1
    assert "not a PyTorch checkpoint" in outcome.message and str(bad) in outcome.message
    assert any("error: not a PyTorch checkpoint" in line for line in outcome.last_lines)
    shown = window.training_ui.panel.outcome_text()
    assert "Failed" in shown and "detr-workbench train: error: not a PyTorch checkpoint" in shown
    assert training.runs[0].status == "failed" and window.training_ui.panel.history.table.item(0, 1).text() == "failed"
    assert not window.actions["use_trained_model"].isEnabled()


@pytest.mark.slow
def test_a_non_finite_loss_stops_the_job_with_its_message(qtbot, train_window, tmp_path, shapes):
    window, training = train_window, train_window.state.training
    open_and_wait(qtbot, window, shapes)
    dialog = open_dialog(qtbot, window)
    fill_fast(dialog, tmp_path / "run", epochs=3, lr="1e30")  # the first update sends the weights to inf
    start(qtbot, dialog, training)
    outcome = wait_finished(qtbot, training)
    assert outcome.status == "failed" and outcome.error.kind == "non_finite_loss"
    assert "non-finite loss at step 2" in outcome.message and "lower --lr" in outcome.message
    assert "non-finite loss at step 2" in window.training_ui.panel.outcome_text()
    assert [e["type"] for e in events_of(tmp_path / "run")][-1] == "error"
    loss = window.training_ui.panel.plots.item("loss")
    qtbot.waitUntil(lambda: list(loss.getData()[0]) == [1.0])  # step 1 reached the curve; step 2 has no loss
    assert training.record.status == "failed" and training.record.curves.count("loss") == 1


@pytest.mark.slow
def test_a_killed_job_is_marked_failed_and_takes_its_process_group_along(qtbot, train_window, tmp_path, shapes):
    window, training = train_window, train_window.state.training
    start_job_until(qtbot, window, shapes, tmp_path / "run", 50, StepDone)
    pid = training.job.pid
    assert os.getpgid(pid) == pid  # its own process group
    training.kill()
    outcome = wait_finished(qtbot, training)
    assert outcome.status == "killed" and outcome.exit_code is None and outcome.last_lines
    assert training.record.status == "failed" and "Killed" in window.training_ui.panel.outcome_text()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_the_dialog_refuses_unusable_data_with_the_reason(qtbot, train_window, tmp_path, shapes):
    window, training = train_window, train_window.state.training
    open_and_wait(qtbot, window, shapes)
    dialog = open_dialog(qtbot, window)
    # By default the job trains for 10 minutes with the automatic recipe: the fields it sets grey out.
    assert dialog.timed.isChecked() and dialog.options().minutes == 10
    assert not dialog.epochs.isEnabled() and not dialog.lr.isEnabled()
    fill_fast(dialog, tmp_path / "run")
    assert dialog.options().minutes is None and dialog.epochs.isEnabled()
    assert dialog.start_button.isEnabled() and dialog.plan.usable
    dialog.reviewed_only.setChecked(True)
    dialog.refresh()
    assert not dialog.start_button.isEnabled() and "No reviewed images" in dialog.problems.text()
    dialog.reviewed_only.setChecked(False)
    dialog.lr.setText("fast")
    dialog.refresh()
    assert not dialog.start_button.isEnabled() and "Learning rate" in dialog.problems.text()
    dialog.lr.setText("1e-4")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "metrics.jsonl").write_text("")
    dialog.run_dir.setText(str(tmp_path / "old"))
    dialog.refresh()
    assert not dialog.start_button.isEnabled() and "already holds a run" in dialog.problems.text()
    assert not dialog.torchrun.isEnabled()  # no CUDA devices here
    dialog.validation.setCurrentIndex(1)  # a separate file, not chosen yet
    dialog.run_dir.setText(str(tmp_path / "new"))
    dialog.refresh()
    assert "Choose the validation COCO file" in dialog.problems.text()
    dialog.reject()
    assert not training.start(tmp_path / "old", dialog.options(), dialog.choice())  # refused here too
    assert training.status == "idle" and not (tmp_path / "old" / "data").exists()


@pytest.mark.slow
def test_closing_over_a_job_can_stop_it_first(qtbot, train_window, tmp_path, shapes, job_question):
    window, training = train_window, train_window.state.training
    start_job_until(qtbot, window, shapes, tmp_path / "run", 50, RunStarted)
    assert not window.close() and window.isVisible()  # "Cancel": nothing happens
    assert "is still running" in job_question.asked[0] and training.status == "running"
    job_question.answer = QMessageBox.StandardButton.Yes  # "Stop the Job"
    with qtbot.waitSignal(training.job_finished, timeout=JOB_TIMEOUT) as blocker:
        assert not window.close()
    assert blocker.args[0].status == "stopped"
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)  # closed once the job had stopped
    assert (tmp_path / "run" / "checkpoint.pth").is_file()


@pytest.mark.slow
def test_closing_can_leave_the_job_running_in_the_background(qtbot, train_window, tmp_path, shapes, job_question):
    window, training = train_window, train_window.state.training
    start_job_until(qtbot, window, shapes, tmp_path / "run", 2, StepDone)
    job_question.answer = QMessageBox.StandardButton.No  # "Leave It Running"
    with qtbot.waitSignal(training.detached, timeout=JOB_TIMEOUT) as blocker:
        window.close()
    run, pid = blocker.args
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    try:
        assert json.loads((tmp_path / "run" / "detached.json").read_text())["pid"] == pid
        def continued_and_ended(events) -> bool:
            return sum(e["type"] == "start" for e in events) == 2 and events[-1]["type"] in ("end", "error")

        deadline = time.monotonic() + JOB_TIMEOUT / 1000
        while time.monotonic() < deadline and not continued_and_ended(events_of(tmp_path / "run")):
            time.sleep(0.5)  # the window is gone: nothing to process but the files
        events = events_of(tmp_path / "run")
        assert events[-1]["type"] == "end" and events[-1]["status"] == "completed", events[-1]
        assert [e["resumed"] for e in events if e["type"] == "start"] == [False, True]
        assert (tmp_path / "run" / "model.pth").is_file()
    finally:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
