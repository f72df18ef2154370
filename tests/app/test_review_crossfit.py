"""The Review dock's Cross-fit… group through its widgets: K fold models are trained in the
background (a real `review --folds K --fold-train ...` child process), the latest fold line shows
while they train, the queue fills like a normal review and says it is cross-fitted; options that
do not parse or more folds than images give one line and start nothing."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.review.crossfit_form import WARNING, CrossfitForm
from model_helpers import wait_model
from sample_helpers import DEMO, sample_subset
from workbench_helpers import open_and_wait

CHEAP = "--config tiny --resolution 192 --epochs 1 --stop-after 1 --batch-size 2 --workers 0 --device cpu"


def test_form_refuses_options_that_do_not_parse_and_more_folds_than_images(qtbot):
    form = CrossfitForm()
    qtbot.addWidget(form)
    assert form.folds.value() == 5 and (form.folds.minimum(), form.folds.maximum()) == (2, 10)
    assert form.warning.text() == WARNING
    form.set_model_source("/models/my run/model.pth")
    assert form.options.text() == "--checkpoint '/models/my run/model.pth' --time-budget 2m"
    form.options.setText('--checkpoint "base.pth --epochs 2')
    assert form.parse(10) == "fold training options do not parse (No closing quotation): " \
                             '--checkpoint "base.pth --epochs 2'
    form.options.setText(CHEAP)
    form.folds.setValue(7)
    assert form.parse(4) == "7 folds need at least 7 labelled images; the file has 4"
    assert form.parse(7) == (7, CHEAP.split())
    form.options.setText("  ")
    assert form.parse(7).startswith("give the fold training options")
    form.set_model_source("other.pth")  # the user's own text is kept; an empty one gets the default
    assert form.options.text() == "--checkpoint other.pth --time-budget 2m"
    form.options.setText(CHEAP)
    form.set_model_source("third.pth")
    assert form.options.text() == CHEAP


@pytest.mark.slow
def test_crossfit_from_the_dock_trains_folds_and_fills_the_queue(qtbot, window, tmp_path):
    path, gt = sample_subset(tmp_path / "data", 4)
    open_and_wait(qtbot, window, path)
    window.state.model.load(str(DEMO))
    wait_model(qtbot, window, DEMO, timeout=60_000)
    ui = window.review_ui
    form = ui.crossfit
    form.setChecked(True)  # unfolds it: the default starts each fold from the loaded model
    assert form.options.text() == f"--checkpoint {DEMO} --time-budget 2m"

    form.options.setText('--config "tiny')  # bad input: one line, nothing started
    qtbot.mouseClick(form.start, Qt.MouseButton.LeftButton)
    assert "do not parse" in form.status.text() and ui.job is None
    form.options.setText(CHEAP)
    form.folds.setValue(5)
    qtbot.mouseClick(form.start, Qt.MouseButton.LeftButton)
    assert form.status.text() == "5 folds need at least 5 labelled images; the file has 4" and ui.job is None

    form.folds.setValue(2)
    fold_lines = []
    qtbot.mouseClick(form.start, Qt.MouseButton.LeftButton)
    job = ui.job
    assert job is not None and job.arguments[job.arguments.index("--folds") + 1] == "2"
    job.progress.connect(lambda line: fold_lines.append((line, form.status.text())))
    with qtbot.waitSignal(job.finished, timeout=600_000):
        pass
    assert fold_lines and fold_lines[0][0] == "fold 1/2: training on 2 images"
    assert fold_lines[0][1] == fold_lines[0][0]  # the dock showed it
    assert any(line.startswith("fold 2/2: training on 2 images") for line, _ in fold_lines)
    panel = ui.panel
    assert panel.notice.text().startswith("cross-fitted: each image scored by a model trained on the other 1 of 2")
    assert sorted(panel.images()) == sorted(im["file_name"] for im in gt["images"])
    scores = [panel.tree.topLevelItem(i).data(1, Qt.ItemDataRole.UserRole) for i in range(4)]
    assert all(isinstance(s, float) for s in scores)
    assert form.status.text().startswith("cross-fitted review ready")
    fold_dir = job.arguments[job.arguments.index("--fold-dir") + 1]
    assert fold_dir.startswith(str(ui._out.parent))  # next to the findings file


def test_a_fold_training_failure_is_the_jobs_failed_line_naming_its_log(qtbot, tmp_path):
    from app.review.job import ReviewJob

    path, _ = sample_subset(tmp_path / "data", 2)
    out = tmp_path / "findings.json"
    job = ReviewJob(DEMO, out, json_path=path, images=path.parent / "images", folds=2,
                    fold_train="--config tiny --no-such-option")
    assert job.arguments[job.arguments.index("--fold-dir") + 1] == str(tmp_path / "findings_folds")
    progress = []
    job.progress.connect(progress.append)
    with qtbot.waitSignal(job.failed, timeout=300_000) as failed:
        job.start()
    line = failed.args[0]
    assert str(tmp_path / "findings_folds" / "fold_0" / "train.log") in line and "fold 0 training failed" in line
    assert "\n" not in line and progress == ["fold 1/2: training on 1 images"]
