"""ONNX export of the bundled demo model: the file, its metadata, its self-check, the torch-free
runner against the PyTorch Detector, and the failures (a failing check writes nothing)."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from detr_core.cli.main import main  # noqa: E402
from detr_core.errors import CheckpointError, ExportError  # noqa: E402
from detr_core.export import CheckTolerances, ExportConfig, export_onnx  # noqa: E402
from detr_core.infer.onnx_runner import METADATA_KEY, OnnxDetector, session_options  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "models" / "demo.pth"
SAMPLES = sorted((ROOT / "resources" / "samples" / "images").glob("*.jpg"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "demo.onnx"
    steps = []
    result = export_onnx(DEMO, out, on_progress=lambda step, total, text: steps.append((step, total, text)))
    return out, result, steps


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt, rb = np.maximum(a[:, :2], b[:, :2]), np.minimum(a[:, 2:], b[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: (x[:, 2:] - x[:, :2]).prod(-1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_export_writes_a_checked_file_with_dynamic_inputs_and_metadata(exported):
    out, result, steps = exported
    assert out.is_file() and result.size_bytes == out.stat().st_size
    assert steps[0][0] == 0 and steps[-1][0] == steps[-1][1]  # progress reached the end
    report = result.report
    assert report.ok and len({r.case for r in report.rows}) == 3
    assert any("padded batch of 2" in r.case for r in report.rows)
    assert max(r.max_abs_diff for r in report.rows if r.output == "pred_logits") < 1e-4
    assert report.summary().startswith("self-check passed on 3 cases")

    model = onnx.load(out)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert dims == {"images": ["batch", 3, "height", "width"], "mask": ["batch", "height", "width"]}
    assert [o.name for o in model.graph.output] == ["pred_logits", "pred_boxes"]
    meta = json.loads({p.key: p.value for p in model.metadata_props}[METADATA_KEY])
    assert meta["class_names"] == ["circle", "square", "triangle", "star", "cross"]
    assert meta["mean"] == [0.485, 0.456, 0.406] and meta["std"] == [0.229, 0.224, 0.225]
    assert (meta["min_size"], meta["max_size"], meta["num_queries"]) == (192, 320, 20)
    assert meta["checkpoint_sha256"] == hashlib.sha256(DEMO.read_bytes()).hexdigest()
    assert meta["category_ids"] == [1, 2, 3, 4, 5]


def test_onnx_runner_gives_the_detectors_detections(exported):
    from detr_core import Detector

    out, _, _ = exported
    runner = OnnxDetector.from_file(out)
    detector = Detector.from_checkpoint(DEMO, device="cpu")
    images = [str(p) for p in SAMPLES[:3]]
    got, ref = runner.detect(images), detector.detect(images)
    for g, r in zip(got, ref):
        assert g.source == r.source and g.image_size == r.image_size and g.input_size == r.input_size
        np.testing.assert_allclose(g.scores, r.scores, atol=1e-3)
        assert _iou(g.boxes_xyxy, r.boxes_xyxy).min() >= 0.99
        assert [d.name for d in g.filter(0.5)] == [d.name for d in r.filter(0.5)]
    alone = runner.detect(images[1])  # a batch gives what each image gives alone
    np.testing.assert_allclose(alone.logits, got[1].logits, rtol=1e-5, atol=1e-5)
    assert got[0].to_coco(1, "a.jpg", 0.5, category_ids={i: i + 1 for i in range(5)})[0]["category_id"] >= 1


def test_runner_and_onnx_prelabelling_do_not_load_torch(exported, tmp_path):
    out, _, _ = exported
    shards, merged = tmp_path / "shards", tmp_path / "merged.json"
    code = (
        "import sys\n"
        "from detr_core.infer.onnx_runner import OnnxDetector\n"
        "from detr_core.cli.main import main\n"
        f"d = OnnxDetector.from_file({str(out)!r}).detect({str(SAMPLES[0])!r})\n"
        f"assert main(['detect', {str(SAMPLES[1])!r}, '-c', {str(out)!r}, '--out-dir', {str(shards)!r}]) == 0\n"
        f"assert main(['coco', 'merge-results', {str(shards)!r}, '--out', {str(merged)!r}]) == 0\n"
        "print(len(d.filter(0.5)), 'torch' in sys.modules)\n"
        "sys.exit(1 if 'torch' in sys.modules else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split()[-1] == "False" and int(result.stdout.split()[-2]) >= 1
    assert {r["file_name"] for r in json.loads(merged.read_text())} == {SAMPLES[1].name}


def test_sessions_do_not_spin():
    options = session_options(threads=2)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2


def test_a_failing_self_check_names_the_output_and_leaves_the_old_file(tmp_path):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous export")
    strict = ExportConfig(tolerances=CheckTolerances(rtol=0.0, atol=0.0))
    with pytest.raises(ExportError) as error:
        export_onnx(DEMO, out, strict)
    message = str(error.value)
    assert message.startswith(f"{out} not written: self-check failed: pred_")
    assert " differs on " in message and " by " in message and "\n" not in message
    assert out.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temporary file left


def test_export_command_and_its_errors(exported, tmp_path, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["export", "--checkpoint", str(DEMO), "--out", str(out), "--no-check"]) == 0
    assert OnnxDetector.from_file(out).class_names[0] == "circle"
    assert main(["export", "--checkpoint", str(DEMO), "--out", str(out)]) == 1
    assert f"{out}: already exists; pass --overwrite" in capsys.readouterr().err
    missing = tmp_path / "nope.pth"
    assert main(["export", "--checkpoint", str(missing), "--out", str(tmp_path / "x.onnx")]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err
    assert not (tmp_path / "x.onnx").exists()


def test_runner_refuses_files_that_are_not_exports(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a protobuf at all")
    with pytest.raises(CheckpointError, match=f"^{garbage}: not a loadable ONNX model"):
        OnnxDetector.from_file(garbage)
    with pytest.raises(CheckpointError, match="no such ONNX file"):
        OnnxDetector.from_file(tmp_path / "missing.onnx")
    # A valid ONNX graph without the export's metadata.
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["images"], ["pred_logits"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("pred_logits", TensorProto.FLOAT, [1])])
    plain = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), plain)
    with pytest.raises(CheckpointError, match="not exported by detr-workbench"):
        OnnxDetector.from_file(plain)


def test_detect_engine_onnx_writes_the_same_results_as_torch(exported, tmp_path):
    out, _, _ = exported
    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in SAMPLES[:2]:
        (folder / p.name).write_bytes(p.read_bytes())
    a, b = tmp_path / "onnx.json", tmp_path / "torch.json"
    assert main(["detect", str(folder), "-c", str(out), "--threshold", "0.5", "-o", str(a)]) == 0
    assert main(["detect", str(folder), "-c", str(DEMO), "--device", "cpu", "--threshold", "0.5", "-o", str(b)]) == 0
    got, ref = json.loads(a.read_text()), json.loads(b.read_text())
    assert len(got) == len(ref) >= 2
    for g, r in zip(got, ref):
        assert (g["image_id"], g["file_name"], g["category_id"], g["query"]) == \
               (r["image_id"], r["file_name"], r["category_id"], r["query"])
        assert abs(g["score"] - r["score"]) <= 1e-3
        np.testing.assert_allclose(g["bbox"], r["bbox"], atol=0.05)
    assert main(["detect", str(folder), "-c", str(out), "--device", "cuda"]) == 1


def test_a_model_that_cannot_be_traced_is_reported_in_one_line():
    import torch

    from detr_core.export.onnx_export import trace_to_bytes
    from detr_core.model.config import preset
    from detr_core.model.detr import build

    with torch.device("meta"):  # weights that were never materialised: nothing to trace with
        model = build(preset("tiny")).eval()
    with pytest.raises(ExportError) as error:
        trace_to_bytes(model, 17, 64, "weights.pth")
    message = str(error.value)
    assert message.startswith("weights.pth: cannot be traced to ONNX (") and "\n" not in message
