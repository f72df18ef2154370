"""`detr-workbench coco stats | split | merge` through the real entry point (and once through a
subprocess): output, exit codes, refusals, and split-then-merge on the real exports."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from detr_core.cli.main import main
from detr_core.coco import CocoDocument, document_stats

ROOT = Path(__file__).resolve().parents[2]
FACEMASK_VAL = "facemask_coco/annotations/custom_val.json"
COCO_VAL = "coco_tiny/annotations/instances_val2017.json"


def by_id(records):
    return json.dumps(sorted(records, key=lambda r: r["id"]))


def test_stats_table(shared_data, capsys):
    path = shared_data / FACEMASK_VAL
    assert main(["coco", "stats", str(path)]) == 0
    out = capsys.readouterr().out
    doc, _ = CocoDocument.load(path)
    assert out.startswith(f"{path}\n")
    assert f"  images{len(doc.images):>24}" in out
    assert f"  annotations{len(doc.annotations):>19}" in out
    for c in document_stats(doc)["classes"]:
        assert f"{c['name']}" in out and f"{c['boxes']:>8}  {c['images']:>7}" in out
    assert "problems: none" in out


def test_stats_json(shared_data, capsys):
    path = shared_data / COCO_VAL
    assert main(["coco", "stats", str(path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    doc, report = CocoDocument.load(path)
    expected = document_stats(doc, report)
    assert {k: stats[k] for k in expected} == expected
    assert stats["crowd_boxes"] == sum(a["iscrowd"] for a in doc.annotations) > 0


def test_stats_lists_problems_and_fails(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"images": [{"id": "1", "file_name": "a.jpg"}],
                                "annotations": [], "categories": [{"id": 1, "name": "x"}]}))
    assert main(["coco", "stats", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: 1 problem (file refused)" in out and "id '1' is a string" in out
    assert main(["coco", "stats", str(path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["problems"] == ["images[0]: id '1' is a string, "
                                                                "not an integer"]


def test_malformed_json_is_one_line_error(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text('{"images": [\n')
    assert main(["coco", "stats", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == (f"detr-workbench coco: error: {path}: malformed JSON at line 2 column 1: "
                   "Expecting value\n")


def test_split_writes_deterministic_parts_and_refuses_overwrite(shared_data, tmp_path, capsys):
    source = shared_data / COCO_VAL
    out = tmp_path / "split"
    args = ["coco", "split", str(source), "--val-fraction", "0.2", "--seed", "5", "--out-dir"]
    assert main(args + [str(out)]) == 0
    assert "note: file_name values are relative to" in capsys.readouterr().out
    train, val = (out / "train.json").read_bytes(), (out / "val.json").read_bytes()
    assert main(args + [str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "train.json").read_bytes() == train
    assert (tmp_path / "again" / "val.json").read_bytes() == val
    capsys.readouterr()
    assert main(args + [str(out)]) == 1
    assert capsys.readouterr().err == (f"detr-workbench coco: error: {out / 'train.json'}: "
                                       "already exists; pass --overwrite to replace it\n")
    assert main(["coco", "split", str(source), "--val-fraction", "0.5", "--out-dir", str(out),
                 "--overwrite"]) == 0
    assert (out / "train.json").read_bytes() != train
    original = json.loads(source.read_text())
    parts = [json.loads((out / n).read_text()) for n in ("train.json", "val.json")]
    assert sorted(im["id"] for p in parts for im in p["images"]) == \
           sorted(im["id"] for im in original["images"])


def test_split_bad_fraction_is_a_usage_error(shared_data, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["coco", "split", str(shared_data / COCO_VAL), "--val-fraction", "1",
              "--out-dir", str(tmp_path)])
    assert info.value.code == 2


@pytest.mark.parametrize("name", [COCO_VAL, FACEMASK_VAL])
def test_split_then_merge_cli_gives_the_original(shared_data, tmp_path, name):
    source = shared_data / name
    out = tmp_path / "parts"
    assert main(["coco", "split", str(source), "--out-dir", str(out), "--seed", "1"]) == 0
    image_root = str(CocoDocument.load(source)[0].image_root)
    merged = tmp_path / "merged.json"
    assert main(["coco", "merge", str(out / "train.json"), str(out / "val.json"), "--out",
                 str(merged), "--image-root-a", image_root, "--image-root-b", image_root]) == 0
    original, result = json.loads(source.read_text()), json.loads(merged.read_text())
    assert list(result) == list(original)
    for key in original:
        if key in ("images", "annotations", "categories"):
            assert by_id(result[key]) == by_id(original[key])
        else:
            assert result[key] == original[key]


def test_merge_refuses_overwrite_and_reports(shared_data, tmp_path, capsys):
    train = shared_data / "facemask_coco/annotations/custom_train.json"
    val = shared_data / FACEMASK_VAL
    out = tmp_path / "all.json"
    out.write_text("{}")
    assert main(["coco", "merge", str(train), str(val), "--out", str(out)]) == 1
    assert out.read_text() == "{}"
    assert main(["coco", "merge", str(train), str(val), "--out", str(out), "--overwrite"]) == 0
    printed = capsys.readouterr().out
    assert "image ids of B were already used in A: given fresh ids" in printed
    root = CocoDocument.load(train)[0].image_root
    assert f"note: file_name values are relative to {root}" in printed
    doc, report = CocoDocument.load(out, root)
    assert len(doc.images) == 677 + 171 and report.warnings == []


def test_subprocess_exit_codes_without_traceback(shared_data, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2, 3]")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "detr_core", "coco", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    done = run("stats", str(bad))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stdout == (f"{bad}: 1 problem (file refused)\n"
                           "  - top level is a JSON list, not an object\n") and done.stderr == ""
    split = run("split", str(bad), "--out-dir", str(tmp_path / "out"))
    assert split.returncode == 1 and split.stderr == (
        f"detr-workbench coco: error: {bad}: 1 problem: top level is a JSON list, not an object\n")
    missing = run("stats", str(tmp_path / "nope.json"))
    assert missing.returncode == 1 and missing.stderr.strip().endswith("nope.json: no such file")
    good = run("stats", str(shared_data / FACEMASK_VAL))
    assert good.returncode == 0 and "with_mask" in good.stdout and good.stderr == ""
