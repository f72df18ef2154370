"""File ▸ Import Predictions…: the COCO results file that `detect --shard I/N` + `coco merge-results`
make (run here for real, 2 shards of the bundled samples with the bundled demo model) shown as the
predictions of the open document, equal to what the model shows for the same image, accepted
and rejected like the model's; bad files change nothing and say why in one line."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from app.model.model_state import DEMO_MODEL
from app.model.results_import import IMPORTED_RESOLUTION, ImageRef, match_results
from detr_core.cli.main import main as cli
from model_helpers import model_settings, wait_attention, wait_model
from workbench_helpers import close_window, make_window, open_and_wait, wait_image

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"  # annotations.json + images/


@pytest.fixture(scope="module")
def merged(tmp_path_factory) -> Path:
    """predictions.json from two real shards of the bundled samples."""
    out = tmp_path_factory.mktemp("prelabel")
    for shard in ("0/2", "1/2"):
        assert cli(["detect", "-c", str(DEMO_MODEL), str(SAMPLES / "images"), "--out-dir", str(out / "shards"),
                    "--shard", shard, "--threshold", "0.01", "--device", "cpu"]) == 0
    assert cli(["coco", "merge-results", str(out / "shards"), "--out", str(out / "predictions.json")]) == 0
    return out / "predictions.json"


@pytest.fixture
def samples(tmp_path) -> Path:
    folder = tmp_path / "samples"  # a copy: accepting writes the journal beside the JSON
    shutil.copytree(SAMPLES, folder)
    return folder


def _import(qtbot, window, dialogs, path: Path, signal: str = "imported"):
    importer = window.state.model.importer
    dialogs.open_file = str(path)
    with qtbot.waitSignal(getattr(importer, signal), timeout=20_000) as blocker:
        window.actions["import_predictions"].trigger()
    return blocker.args[0]


def _shown(view) -> list[tuple]:
    return [(d.query, d.name, d.score, d.box_xyxy) for d in view.visible_predictions()]


def _same(imported: list[tuple], model: list[tuple]) -> None:
    """The file rounds scores to 1e-5 and boxes to 0.01 px."""
    assert [(q, n) for q, n, *_ in imported] == [(q, n) for q, n, *_ in model]
    for (_, _, score, box), (_, _, want_score, want_box) in zip(imported, model):
        assert score == pytest.approx(want_score, abs=2e-5)
        assert box == pytest.approx(want_box, abs=0.02)


def test_merged_shards_show_as_the_models_predictions_and_accept_like_them(qtbot, settings, tmp_path, dialogs,
                                                                          merged, samples):
    model_settings(settings, DEMO_MODEL, threshold=0.5)
    window = make_window(qtbot, settings, tmp_path, load_model=True)
    try:
        wait_model(qtbot, window, DEMO_MODEL)
        open_and_wait(qtbot, window, samples)
        wait_attention(qtbot, window)
        state, model = window.state, window.state.model
        view = model.prediction_view
        from_model = _shown(view)
        from_model_high = [(d.query, d.name, d.score, d.box_xyxy) for d in view.current_detections().filter(0.9)]
        assert from_model and len(from_model_high) < len(from_model)

        result = _import(qtbot, window, dialogs, merged)
        assert result.sha256 == hashlib.sha256(merged.read_bytes()).hexdigest()
        path = state.current_entry().path
        assert model.store.get(path).model_key == result.model_key  # what is shown is the file's
        _same(_shown(view), from_model)
        assert window.image_list.model.data(window.image_list.model.index(0, 2)) == str(len(from_model))
        view.set_threshold(0.9)  # the panel's threshold applies
        _same(_shown(view), from_model_high)
        view.set_threshold(0.5)

        first = view.visible_predictions()[0]
        view.select_query(first.query)
        before = len(state.current_annotations())
        window.actions["accept_prediction"].trigger()  # Enter, on the canvas
        assert len(state.current_annotations()) == before + 1
        assert first.query not in [d.query for d in view.visible_predictions()]
        assert view.query_status(first.query) == "accepted"
        marks = model.decisions.of(path, result.sha256, IMPORTED_RESOLUTION)  # kept by the file's hash
        assert marks == {first.query: state.current_annotations()[-1]["id"]}

        # The next image shows the file's predictions too; the model does not run over them.
        state.go_next()
        wait_image(qtbot, window)
        assert not model.running and model.store.get(state.current_entry().path).model_key == result.model_key
        image_id = state.current_entry().image_id
        want = sorted(r["query"] for r in json.loads(merged.read_text())
                      if r["image_id"] == image_id and r["score"] >= 0.5)
        assert sorted(d.query for d in view.visible_predictions()) == want
    finally:
        close_window(window, dialogs)


def _result(image_id=1, category_id=1, **extra) -> dict:
    return {"image_id": image_id, "category_id": category_id, "bbox": [10, 10, 20, 30], "score": 0.9, **extra}


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not JSON"),
    (json.dumps({"images": [], "annotations": []}), "not a COCO results list"),
    (json.dumps([_result(), [1, 2, 3]]), "result 1: a list, not an object"),
    (json.dumps([_result(bbox=[1, 2, 3])]), "bbox [1, 2, 3] is not [x, y, w, h]"),
    (json.dumps([]), "no results in it"),
    (json.dumps([_result(), _result(image_id=999)]), "1 results are for images not in the open document (image_id 999)"),
    (json.dumps([_result(file_name="elsewhere.jpg", image_id=999)]), "(elsewhere.jpg)"),
    (json.dumps([_result(category_id=77)]), "category ids 77 are not categories of the open document"),
])
def test_a_bad_results_file_changes_nothing_and_says_why_in_one_line(qtbot, window, dialogs, samples, tmp_path,
                                                                      content, problem):
    open_and_wait(qtbot, window, samples)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    model = window.state.model
    message = _import(qtbot, window, dialogs, bad, signal="failed")
    assert message.startswith(f"{bad}: ") and problem in message and "\n" not in message
    assert any(message in t for t in dialogs.texts("warning"))
    assert not model.importer.active and model.store.predictions == {}
    assert model.prediction_view.visible_predictions() == []


def test_results_match_by_file_name_when_the_image_id_names_another_image(samples):
    """A results file of another numbering (detect over a subset) still lands on the right images."""
    data = json.loads((samples / "annotations.json").read_text())
    images = [ImageRef(str(samples / "images" / i["file_name"]), i["file_name"], i["id"], (i["width"], i["height"]))
              for i in data["images"]]
    second = data["images"][1]["file_name"]
    results = [_result(image_id=1, file_name=second, query=4), _result(image_id=1, category_id=2)]
    imported = match_results("r.json", results, "0" * 64, images, data["categories"])
    assert sorted(Path(p).name for p in imported.by_path) == sorted([second, data["images"][0]["file_name"]])
    on_second = imported.by_path[images[1].path]
    assert on_second.query.tolist() == [4] and on_second.names == [data["categories"][0]["name"]]
    assert on_second.boxes_xyxy.tolist() == [[10, 10, 30, 40]]
