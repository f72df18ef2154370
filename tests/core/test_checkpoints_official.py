"""Official facebookresearch/detr checkpoints: plain, bare, legacy serialisation, training (with an
argparse.Namespace), panoptic; config inference from tensors; nheads/dilation; COCO names."""
from __future__ import annotations

import argparse
import json
import os

import pytest
import torch

from detr_core.checkpoints import load_checkpoint
from detr_core.coco.names import COCO_CLASS_NAMES, default_class_names
from detr_core.model.config import preset
from detr_core.model.detr import build, parameter_count
from detr_core.errors import CheckpointError


def _tiny(seed: int = 0, **changes):
    torch.manual_seed(seed)
    cfg = preset("tiny", num_classes=3, **changes)
    return build(cfg).eval(), cfg


def _outputs(model, seed: int = 1):
    torch.manual_seed(seed)
    images = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        out = model(images)
    return out["pred_logits"], out["pred_boxes"]


def _assert_same_weights(loaded_model, model):
    expected = model.state_dict()
    got = loaded_model.state_dict()
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key


def _assert_same_outputs(a, b):
    for x, y in zip(_outputs(a), _outputs(b)):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def r50(tmp_path_factory):
    torch.manual_seed(0)
    model = build(preset("detr-r50")).eval()
    path = tmp_path_factory.mktemp("r50") / "detr-r50-e632da11.pth"
    torch.save({"model": model.state_dict()}, path)
    return model, path


def test_r50_official_layout_loads_with_reference_counts(r50):
    model, path = r50
    loaded = load_checkpoint(path)
    assert len(loaded.model.state_dict()) == 458
    assert parameter_count(loaded.model) == (41_302_368, 41_524_768)
    assert loaded.config == preset("detr-r50")
    assert loaded.kind == "official"
    assert loaded.class_names == list(COCO_CLASS_NAMES)
    assert loaded.description == (f"official DETR checkpoint: R50, 91 COCO classes, 100 queries ({path}); "
                                   "8 attention heads assumed (not recorded in the file)")
    assert not loaded.model.training
    _assert_same_weights(loaded.model, model)


@pytest.mark.parametrize("wrap,zipfile", [(True, True), (False, True), (True, False)],
                         ids=["model-key", "bare-state-dict", "legacy-serialisation"])
def test_official_tiny_loads_same_tensors(tmp_path, wrap, zipfile):
    model, cfg = _tiny()
    path = tmp_path / "ckpt.pth"
    sd = model.state_dict()
    torch.save({"model": sd} if wrap else sd, path, _use_new_zipfile_serialization=zipfile)
    loaded = load_checkpoint(path)
    assert loaded.kind == "official"
    # Shapes give everything but nheads (default 8) and the input sizes (defaults 800/1333).
    assert loaded.config == cfg.replace(nheads=8, min_size=800, max_size=1333)
    assert loaded.class_names == ["class_0", "class_1", "class_2"]
    assert loaded.metadata == {}
    assert "R18, 3 classes (class_0, class_1, class_2), 20 queries" in loaded.description
    _assert_same_weights(loaded.model, model)


def _training_checkpoint(model, args: argparse.Namespace, epoch: int = 7) -> dict:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    out = model.train()(torch.randn(1, 3, 64, 64))
    (out["pred_logits"].sum() + out["pred_boxes"].sum()).backward()
    optimizer.step()
    model.eval()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 200)
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "lr_scheduler": scheduler.state_dict(), "epoch": epoch, "args": args}


@pytest.mark.parametrize("zipfile", [True, False])
def test_training_checkpoint_with_namespace_args(tmp_path, zipfile):
    model, cfg = _tiny()
    args = argparse.Namespace(lr=1e-4, lr_drop=200, nheads=4, dilation=False, hidden_dim=64,
                              position_embedding="sine", pre_norm=False, dataset_file="coco",
                              output_dir="out", device="cuda", resume="", dropout=0.1)
    path = tmp_path / "checkpoint0007.pth"
    torch.save(_training_checkpoint(model, args), path, _use_new_zipfile_serialization=zipfile)
    loaded = load_checkpoint(path)
    assert loaded.kind == "official-training"
    assert loaded.config.nheads == 4 and loaded.config.dilation is False
    assert loaded.metadata == {"epoch": 7, "args": vars(args)}
    assert type(loaded.metadata["args"]) is dict
    json.dumps(loaded.metadata)  # plain data only
    assert loaded.description.startswith("official DETR training checkpoint (epoch 7): R18, 3 classes")
    _assert_same_weights(loaded.model, model)
    _assert_same_outputs(loaded.model, model)  # right nheads -> same computation


def test_wrong_nheads_changes_outputs_so_args_matter(tmp_path):
    model, _ = _tiny()  # 4 heads
    path = tmp_path / "plain.pth"
    torch.save({"model": model.state_dict()}, path)
    loaded = load_checkpoint(path)  # no args: nheads 8
    assert loaded.config.nheads == 8
    assert not torch.allclose(_outputs(loaded.model)[0], _outputs(model)[0], atol=1e-4)


def test_panoptic_checkpoint_loads_detection_part(tmp_path):
    model, cfg = _tiny()
    sd = {f"detr.{k}": v for k, v in model.state_dict().items()}
    sd.update({"bbox_attention.q_linear.weight": torch.randn(64, 64),
               "bbox_attention.k_linear.bias": torch.randn(64),
               "mask_head.lay1.weight": torch.randn(72, 72, 3, 3),
               "mask_head.gn1.weight": torch.randn(72),
               "mask_head.out_lay.bias": torch.randn(1)})
    args = argparse.Namespace(nheads=4, dilation=False, masks=True)
    path = tmp_path / "detr-r50-panoptic.pth"
    torch.save({"model": sd, "args": args, "epoch": 3}, path)
    loaded = load_checkpoint(path)
    assert loaded.kind == "official-panoptic"
    assert "detection part only (5 mask-head tensors not loaded)" in loaded.description
    assert loaded.metadata["epoch"] == 3
    _assert_same_weights(loaded.model, model)
    _assert_same_outputs(loaded.model, model)


@pytest.fixture(scope="module")
def r50_tiny_dc5(tmp_path_factory):
    """A small DC5 model (dilation needs bottleneck blocks) and its bare official state dict."""
    torch.manual_seed(0)
    model = build(preset("tiny", backbone="resnet50", nheads=8, dilation=True)).eval()
    folder = tmp_path_factory.mktemp("dc5")
    torch.save({"model": model.state_dict()}, folder / "plain.pth")
    os.link(folder / "plain.pth", folder / "my-detr-DC5.pth")  # same bytes, another name
    return model, model.state_dict(), folder


def test_dilation_from_file_name(r50_tiny_dc5):
    model, sd, folder = r50_tiny_dc5
    loaded = load_checkpoint(folder / "my-detr-DC5.pth")
    assert loaded.config.dilation is True
    assert "R50-DC5" in loaded.description
    _assert_same_outputs(loaded.model, model)


def test_dilation_argument_and_default(r50_tiny_dc5):
    model, sd, folder = r50_tiny_dc5
    assert load_checkpoint(folder / "plain.pth", dilation=True).config.dilation is True
    undilated = load_checkpoint(folder / "plain.pth")
    assert undilated.config.dilation is False
    # Dilation cannot be seen in the weights, but it changes the computation.
    assert _outputs(undilated.model)[0].shape == _outputs(model)[0].shape
    assert not torch.allclose(_outputs(undilated.model)[0], _outputs(model)[0], atol=1e-4)


def test_args_dilation_wins_over_argument_and_name(r50_tiny_dc5):
    model, sd, folder = r50_tiny_dc5
    torch.save({"model": sd, "args": argparse.Namespace(dilation=False, nheads=8)}, folder / "x-dc5.pth")
    assert load_checkpoint(folder / "x-dc5.pth", dilation=True).config.dilation is False


def test_min_max_size_override(tmp_path):
    model, _ = _tiny()
    torch.save({"model": model.state_dict()}, tmp_path / "a.pth")
    loaded = load_checkpoint(tmp_path / "a.pth", min_size=320, max_size=512)
    assert (loaded.config.min_size, loaded.config.max_size) == (320, 512)


@pytest.mark.parametrize("extra,message", [
    ({"backbone.1.row_embed.weight": torch.zeros(50, 32)}, "learned position embedding"),
    ({"transformer.encoder.norm.weight": torch.ones(64)}, "pre-norm"),
])
def test_unsupported_official_variants_are_refused(tmp_path, extra, message):
    model, _ = _tiny()
    path = tmp_path / "variant.pth"
    torch.save({"model": {**model.state_dict(), **extra}}, path)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_args_with_learned_position_embedding_refused(tmp_path):
    model, _ = _tiny()
    path = tmp_path / "v3.pth"
    torch.save({"model": model.state_dict(), "args": argparse.Namespace(position_embedding="v3")}, path)
    with pytest.raises(CheckpointError, match="position_embedding='v3'"):
        load_checkpoint(path)


def test_coco_names_match_the_coco_annotation_file(shared_data):
    annotations = json.loads((shared_data / "coco_tiny/annotations/instances_val2017.json").read_text())
    by_id = {c["id"]: c["name"] for c in annotations["categories"]}
    assert len(COCO_CLASS_NAMES) == 91
    assert [COCO_CLASS_NAMES[i] for i in sorted(by_id)] == [by_id[i] for i in sorted(by_id)]
    assert [i for i, n in enumerate(COCO_CLASS_NAMES) if n == "N/A"] == \
        [i for i in range(91) if i not in by_id]
    assert default_class_names(91) == list(COCO_CLASS_NAMES)
    assert default_class_names(2) == ["class_0", "class_1"]
