"""The review queue linked to the rest of the window: the image list's Review column fills as the
review's results arrive and sorts like the queue; selecting a finding selects the DETR query
behind it in the attention dock (its class scores, its cross-attention heatmap)."""
from __future__ import annotations

import pytest

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.image_list import ImageListModel
from app.model.query_list import QUERY_ROLE
from detr_core.review import ReviewQueue
from model_helpers import wait_attention, wait_model
from sample_helpers import DEMO, sample_subset
from test_model_attention import expected_indices, indices
from workbench_helpers import open_and_wait

REVIEW = ImageListModel.COLUMNS.index("Review")


def _reviewed(qtbot, window, folder, n: int) -> ReviewQueue:
    """n bundled samples, the first box of the file removed, scored by Build Review Queue."""
    import json

    path, gt = sample_subset(folder, n)
    gt["annotations"].pop(0)
    path.write_text(json.dumps(gt))
    open_and_wait(qtbot, window, path)
    window.state.model.load(str(DEMO))
    wait_model(qtbot, window, DEMO, timeout=60_000)
    assert window.review_ui.start()
    with qtbot.waitSignal(window.review_ui.job.finished, timeout=300_000) as done:
        pass
    return ReviewQueue.read(done.args[0])


def _click_header(qtbot, header, column: int) -> None:
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(x, header.height() // 2))


@pytest.mark.slow
def test_review_column_fills_as_results_arrive_and_sorts_like_the_queue(qtbot, window, tmp_path):
    listing = window.image_list
    model = listing.model
    cells = lambda: [model.index(i, REVIEW).data() for i in range(model.rowCount())]
    filled = []
    model.dataChanged.connect(lambda first, last: first.column() <= REVIEW <= last.column() and filled.append(
        [model.index(i, REVIEW).data() for i in range(model.rowCount())]))
    queue = _reviewed(qtbot, window, tmp_path / "data", 4)
    assert model.headerData(REVIEW, Qt.Orientation.Horizontal) == "Review"
    assert any("" in row and any(row) for row in filled)  # some scored while others were still blank
    by_row = {window.state.images.row_of_image(r.image_id): r.score for r in queue.images}
    assert cells() == [f"{by_row[r]:.2f}" for r in listing.visible_rows()]

    header = listing.view.header()
    _click_header(qtbot, header, REVIEW)  # highest score first, as the queue
    ranked = [window.state.images.row_of_image(r.image_id) for r in queue.ranked()]
    assert listing.visible_rows() == ranked
    assert window.state.current_row == listing.model.entry_row(listing.view.currentIndex().row())
    _click_header(qtbot, header, REVIEW)  # lowest first
    assert [by_row[r] for r in listing.visible_rows()] == sorted(by_row.values())
    _click_header(qtbot, header, REVIEW)  # and back to the list's own order
    assert listing.visible_rows() == list(range(4))

    assert window.review_ui.start()  # a new review: blank until each result arrives
    assert cells() == [""] * 4
    window.review_ui.job.cancel()


@pytest.mark.slow
def test_selecting_a_finding_selects_its_query_and_shows_its_attention(qtbot, window, tmp_path):
    _reviewed(qtbot, window, tmp_path / "data", 2)
    panel = window.review_ui.panel
    tree = panel.tree
    items = [tree.topLevelItem(i).child(j) for i in range(tree.topLevelItemCount())
             for j in range(tree.topLevelItem(i).childCount())]
    item = next(i for i in items if i.data(0, Qt.ItemDataRole.UserRole)[1].query is not None)
    review, finding = item.data(0, Qt.ItemDataRole.UserRole)
    model = window.state.model
    model.prediction_view.set_view(visible=False)  # the heatmap was off: the finding turns it on
    tree.setCurrentItem(item)
    text = panel.query_info.text()
    name, p = finding.top_classes[0]
    assert text.startswith(f"query {finding.query}: {name} {p:.2f}") and "entropy" in text
    assert window.state.current_row == window.state.images.row_of_image(review.image_id)
    assert model.prediction_view.selected_query == finding.query
    wait_attention(qtbot, window, timeout=60_000)
    queries = window.model_ui.attention.queries
    window.model_ui.attention_dock.raise_()  # the table behind the Review tab is filled when in sight
    qtbot.waitUntil(queries.on_screen, timeout=2000)
    assert queries.view.currentIndex().data(QUERY_ROLE) == finding.query  # kept while detections arrived
    assert model.prediction_view.view.visible and model.prediction_view.view.mode == "decoder"
    detections = model.current_detections()
    heat = window.model_ui.heatmap.picture
    assert (indices(heat) == expected_indices(detections.attention, detections.attention.decoder[finding.query])).all()


@pytest.mark.slow
def test_images_the_file_does_not_list_are_ranked_by_doubt_in_the_unlabelled_tab(qtbot, window, tmp_path):
    """A project folder (annotations.json beside its images) with two images the file does not
    list, one a smaller copy of the other: after the labelled queue, they are ranked by the
    model's doubt, the copy last; picking one shows it."""
    import json
    import shutil

    from PIL import Image

    from sample_helpers import SAMPLES

    gt = json.loads((SAMPLES / "annotations.json").read_text())
    folder = tmp_path / "project"
    folder.mkdir()
    listed, extra = gt["images"][:2], gt["images"][2]
    for im in gt["images"][:3]:
        shutil.copy(SAMPLES / "images" / Path(im["file_name"]).name, folder / Path(im["file_name"]).name)
    Image.open(folder / Path(extra["file_name"]).name).resize((200, 160)).save(folder / "zz_copy.jpg", quality=85)
    gt["images"] = [dict(im, file_name=Path(im["file_name"]).name) for im in listed]
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in {im["id"] for im in listed}]
    (folder / "annotations.json").write_text(json.dumps(gt))
    open_and_wait(qtbot, window, folder / "annotations.json")
    assert window.state.row_count() == 4  # the two unlisted images are listed, unlabelled
    window.state.model.load(str(DEMO))
    wait_model(qtbot, window, DEMO, timeout=60_000)
    ui = window.review_ui
    assert ui.start()
    with qtbot.waitSignal(ui.job.finished, timeout=300_000):
        pass
    assert ui.unlabelled_job is not None
    with qtbot.waitSignal(ui.unlabelled_job.finished, timeout=300_000):
        pass
    panel = ui.panel
    names = [Path(n).name for n in panel.unlabelled_images()]
    assert names == [Path(extra["file_name"]).name, "zz_copy.jpg"]  # the near-duplicate waits
    assert sorted(panel.images()) == sorted(im["file_name"] for im in gt["images"])  # findings: listed ones
    copy = panel.unlabelled.topLevelItem(1)
    assert "like " in copy.toolTip(0) and "margin" in copy.toolTip(0)
    panel.unlabelled.setCurrentItem(copy)
    assert window.state.current_entry().path == str(folder / "zz_copy.jpg")


def test_the_settings_shown_are_what_the_next_run_uses(qtbot, window, tmp_path):
    path, _ = sample_subset(tmp_path / "data", 1)
    open_and_wait(qtbot, window, path)
    window.state.model.load(str(DEMO))
    wait_model(qtbot, window, DEMO, timeout=60_000)
    ui = window.review_ui
    assert ui.start() and "--set" not in ui.job.arguments  # the defaults
    ui.panel.settings.editors["confident"].setValue(0.9)
    assert ui.start()
    assert ui.job.arguments[-2:] == ["--set", "confident=0.9"]
    assert ui.panel.settings.config().confident == 0.9  # still shown for the run after
    ui.shutdown()
