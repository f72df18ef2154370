"""The Review dock through its public surface: a real `review --jsonl` child process fills it,
images come ordered by score with each finding's reason, the keys take a fix, dismiss (remembered
per annotation and model) and go to the next finding, and the settings show every default."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from detr_core.data.synthetic import write_dataset
from detr_core.review import ReviewConfig, inject_mistakes

from app.review.dismissals import Dismissals
from app.review.dock import ReviewWidget
from app.review.job import ReviewJob

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "models" / "demo.pth"


@pytest.fixture
def reviewed(qtbot, tmp_path):
    """Three synthetic images, the box of one removed; the reviews as the job streamed them."""
    write_dataset(tmp_path, 3, seed=31, name="rev")
    coco = json.loads((tmp_path / "annotations.json").read_text())
    bad, mistakes = inject_mistakes(coco, fraction=0.34, seed=0, kinds=("removed",))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    job = ReviewJob(DEMO, tmp_path / "findings.json", json_path=tmp_path / "bad.json", images=tmp_path / "images",
                    cfg=ReviewConfig(confident=0.75))
    assert job.arguments[-2:] == ["--set", "confident=0.75"]
    reviews, failures = [], []
    job.image_reviewed.connect(reviews.append)
    job.failed.connect(failures.append)
    with qtbot.waitSignal(job.finished, timeout=600_000) as done:
        job.start()
    assert not failures and done.args == [str(tmp_path / "findings.json")]
    return tmp_path, reviews, mistakes[0]


@pytest.mark.slow
def test_dock_orders_images_and_handles_the_keys(qtbot, reviewed):
    folder, reviews, mistake = reviewed
    assert len(reviews) == 3
    store = folder / "dismissed.json"
    widget = ReviewWidget("demo", Dismissals(store), image_root=folder / "images")
    qtbot.addWidget(widget)
    for r in reviews:
        widget.add_review(r)
    by_score = sorted(reviews, key=lambda r: -r.score)
    assert widget.images() == [r.file_name for r in by_score]
    top = by_score[0]
    assert top.image_id == mistake.image_id and top.findings[0].kind == "missing"

    with qtbot.waitSignal(widget.finding_selected) as selected:
        widget.next_finding()
    review, finding = selected.args
    assert review is top and finding == top.findings[0]
    assert "here; no box" in finding.reason and finding.query is not None
    assert widget.model_view.pixmap() is not None and not widget.model_view.pixmap().isNull()

    with qtbot.waitSignal(widget.fix_requested) as fixed:
        widget.take_fix()
    assert fixed.args[1] == finding

    widget.add_review(top)  # the next run reviews it again: it replaces the entry; dismiss it this time
    assert widget.images() == [r.file_name for r in by_score]
    widget.tree.setCurrentItem(widget.tree.topLevelItem(0))
    widget.next_finding()
    assert widget.current() == (top, finding)
    with qtbot.waitSignal(widget.dismissed):
        widget.dismiss_current()
    assert len(Dismissals(store)) == 1

    again = ReviewWidget("demo", Dismissals(store))  # a new window: the false alarm stays away
    qtbot.addWidget(again)
    again.add_review(top)
    assert again.tree.topLevelItem(0).childCount() == len(top.findings) - 1
    other_model = ReviewWidget("another model", Dismissals(store))
    qtbot.addWidget(other_model)
    other_model.add_review(top)
    assert other_model.tree.topLevelItem(0).childCount() == len(top.findings)


def test_settings_show_every_default(qtbot):
    widget = ReviewWidget("demo")
    qtbot.addWidget(widget)
    assert widget.settings.config() == ReviewConfig()
    assert set(widget.settings.editors) == set(ReviewConfig().to_dict())
    widget.settings.editors["confident"].setValue(0.9)
    assert widget.settings.config().confident == 0.9
    assert widget.settings.editors["confident"].toolTip() == "default 0.8"


def _renamed(folder: Path, names: dict) -> Path:
    """Two bundled samples whose file keeps only the categories in `names` ({old: new}), renumbered
    (ids 100..), with their boxes."""
    from sample_helpers import sample_subset

    path, gt = sample_subset(folder, 2)
    keep = {c["id"]: names[c["name"]] for c in gt["categories"] if c["name"] in names}
    gt["categories"] = [{"id": 100 + cid, "name": new} for cid, new in keep.items()]
    gt["annotations"] = [dict(a, category_id=100 + a["category_id"]) for a in gt["annotations"]
                         if a["category_id"] in keep]
    path.write_text(json.dumps(gt))
    return path


def _run(qtbot, widget: ReviewWidget, path: Path, out: Path) -> ReviewJob:
    job = ReviewJob(DEMO, out, json_path=path, images=path.parent / "images")
    job.described.connect(widget.describe)
    job.image_reviewed.connect(widget.add_review)
    job.failed.connect(widget.show_failure)
    ended = []
    job.finished.connect(ended.append)
    job.failed.connect(ended.append)
    job.start()
    qtbot.waitUntil(lambda: bool(ended), timeout=600_000)  # done or refused, whichever comes
    return job


@pytest.mark.slow
def test_dock_says_how_the_models_classes_were_mapped_and_refuses_when_none_map(qtbot, tmp_path):
    widget = ReviewWidget("demo")
    qtbot.addWidget(widget)
    three = _renamed(tmp_path / "three", {"circle": "Circle", "square": "square", "triangle": "triangle"})
    _run(qtbot, widget, three, tmp_path / "three.json")
    assert "model classes mapped by name: 3 of 5; unmatched: star, cross" in widget.notice.text()
    assert widget.images()  # the queue filled
    shown = [widget.tree.topLevelItem(i).child(j).data(0, Qt.ItemDataRole.UserRole)[1]
             for i in range(widget.tree.topLevelItemCount()) for j in range(widget.tree.topLevelItem(i).childCount())]
    assert not {f.model_class for f in shown} & {"star", "cross"}

    refused = ReviewWidget("demo")
    qtbot.addWidget(refused)
    animals = _renamed(tmp_path / "animals", {"circle": "dog", "square": "cat"})
    _run(qtbot, refused, animals, tmp_path / "animals.json")
    text = refused.notice.text()
    assert "\n" not in text and str(animals) in text and "none of the model's 5 classes" in text
    assert refused.images() == [] and not (tmp_path / "animals.json").exists()
