"""Measuring the loop in the window: predictions of a run's model are accepted, then one is
moved, one reclassified, one deleted and a box added by hand; saving writes what became of them
beside the document and into the run's folder, and the Runs list shows it."""
from __future__ import annotations

import json
import shutil

from detr_core.review.loop import read_loop_stats
from model_helpers import wait_attention, wait_model
from sample_helpers import DEMO, sample_subset
from test_training_history import write_run
from workbench_helpers import open_and_wait, save_and_wait

from app.model.prelabels import PrelabelLog, loop_path, prelabels_path
from app.training.history import LOOP


def test_saving_counts_what_became_of_the_pre_labels_per_model_version(qtbot, window, tmp_path):
    run = write_run(tmp_path / "run", 0.5)
    shutil.copy(DEMO, run / "checkpoint.pth")  # the run's model: the demo weights
    path, gt = sample_subset(tmp_path / "data", 5)
    boxes = {im["id"]: sum(a["image_id"] == im["id"] for a in gt["annotations"]) for im in gt["images"]}
    gt["images"].sort(key=lambda im: -boxes[im["id"]])  # the busiest image first
    first = gt["images"][0]["id"]
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] != first]  # image 1: no labels yet
    path.write_text(json.dumps(gt))
    assert window.state.training.add_run(run)
    window.state.model.load(str(run / "checkpoint.pth"))
    wait_model(qtbot, window, run / "checkpoint.pth", timeout=60_000)
    open_and_wait(qtbot, window, path)
    wait_attention(qtbot, window, timeout=60_000)

    model, edits, row = window.state.model, window.state.edits, window.state.current_row
    model.acceptor.accept_all()
    accepted = window.state.annotations(row)
    n = len(accepted)
    assert n >= 3, n
    moved, swapped, gone = accepted[0], accepted[1], accepted[2]
    x, y, w, h = moved["bbox"]
    edits.set_bboxes(row, {moved["id"]: [x + 0.2 * w, y, w, h]})
    other = next(c["id"] for c in window.state.categories() if c["id"] != swapped["category_id"])
    edits.set_boxes_category(row, [swapped["id"]], other)
    edits.delete_boxes(row, [gone["id"]])
    edits.add_boxes(row, [(other, [1.0, 1.0, 12.0, 12.0])], "a box by hand")
    save_and_wait(qtbot, window)

    expected = dict(images=1, prelabels=n, accepted=n - 3, moved=1, reclassified=1, deleted=1, added=1)
    beside = json.loads(loop_path(path).read_text())["versions"]
    (fingerprint, counts), = beside.items()
    assert fingerprint == model.info.fingerprint and counts["checkpoint"] == str(run / "checkpoint.pth")
    assert {k: counts[k] for k in expected} == expected
    (version, stats), = read_loop_stats(run).items()
    assert version.startswith("checkpoint.pth@") and stats.to_dict() | expected == stats.to_dict()

    table = window.training_ui.panel.history.table
    runs = [table.item(r, 0).text() for r in range(table.rowCount())]
    cell = table.item(runs.index("run"), LOOP)
    assert cell.text() == f"{n - 3}/{n} kept"
    assert "1 moved, 1 reclassified, 1 deleted; 1 added by hand" in cell.toolTip()

    log = PrelabelLog()  # the pre-labels are kept beside the document for the next session's saves
    log.read(path)
    assert prelabels_path(path).is_file() and len(log) == n
