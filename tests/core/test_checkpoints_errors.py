"""Bad input: every problem is one CheckpointError line naming the file; pickles that would run
code are refused, never executed."""
from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from detr_core.checkpoints import load_checkpoint
from detr_core.model.config import preset
from detr_core.model.detr import build
from detr_core.errors import CheckpointError


@pytest.fixture(scope="module")
def tiny_sd():
    torch.manual_seed(0)
    return build(preset("tiny", num_classes=3)).state_dict()


def _error(source, **kwargs) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(source, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert str(source) in message
    return message


class Exploit:
    """Unpickling this runs `touch <marker>` through os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class Custom:
    pass


def test_missing_file(tmp_path):
    assert "checkpoint not found" in _error(tmp_path / "nope.pth")


def test_empty_file(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    assert "checkpoint file is empty" in _error(tmp_path / "empty.pth")


def test_random_bytes(tmp_path):
    (tmp_path / "noise.pth").write_bytes(bytes(range(7, 256)) * 40)
    assert "not a PyTorch checkpoint" in _error(tmp_path / "noise.pth")
    (tmp_path / "noise2.pth").write_bytes(b"\x80" + bytes(range(256)) * 40)  # looks like a pickle
    assert "not a readable PyTorch checkpoint" in _error(tmp_path / "noise2.pth")


def test_text_file(tmp_path):
    (tmp_path / "notes.pth").write_text("these are not weights\nreally\n")
    assert "is a text file" in _error(tmp_path / "notes.pth")


def test_jpeg(tmp_path):
    Image.new("RGB", (32, 24), (200, 30, 30)).save(tmp_path / "photo.pth", format="JPEG")
    assert "is a JPEG image" in _error(tmp_path / "photo.pth")


def test_truncated_checkpoint(tmp_path, tiny_sd):
    torch.save({"model": tiny_sd}, tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "half.pth").write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in _error(tmp_path / "half.pth")


@pytest.mark.parametrize("how", ["zip", "legacy", "raw-pickle"])
def test_code_execution_is_refused_not_run(tmp_path, how):
    marker = tmp_path / "pwned"
    payload = {"model": {"x": torch.zeros(1)}, "extra": Exploit(marker)}
    path = tmp_path / "evil.pth"
    if how == "raw-pickle":  # pickle.dump, no tensors (pickled tensors are refused by themselves)
        path.write_bytes(pickle.dumps({"epoch": 1, "extra": Exploit(marker)}, protocol=2))
    else:
        torch.save(payload, path, _use_new_zipfile_serialization=how == "zip")
    message = _error(path)
    assert "would run code" in message and ("posix.system" in message or "nt.system" in message)
    assert not marker.exists()
    # The exploit itself is real: a plain unpickle does run it.
    pickle.loads(pickle.dumps(Exploit(marker)))
    assert marker.exists()


def test_custom_class_is_refused(tmp_path):
    torch.save({"model": {"x": torch.zeros(1)}, "meta": Custom()}, tmp_path / "custom.pth")
    assert f"would run code ({__name__}.Custom)" in _error(tmp_path / "custom.pth")


def test_wrong_shape_names_key_and_shapes(tmp_path, tiny_sd):
    sd = dict(tiny_sd)
    sd["transformer.encoder.layers.1.linear1.weight"] = torch.zeros(99, 64)
    torch.save({"model": sd}, tmp_path / "bad.pth")
    message = _error(tmp_path / "bad.pth")
    assert "wrong shape for transformer.encoder.layers.1.linear1.weight" in message
    assert "[99, 64] in the file, the model needs [128, 64]" in message


def test_unknown_layout_names_keys(tmp_path):
    torch.save({"encoder.weight": torch.zeros(2), "head.bias": torch.zeros(2)}, tmp_path / "other.pth")
    message = _error(tmp_path / "other.pth")
    assert "unknown checkpoint layout" in message and "encoder.weight" in message and "head.bias" in message


def test_unknown_extra_key_in_official_layout(tmp_path, tiny_sd):
    torch.save({"model": {**tiny_sd, "extra_head.weight": torch.zeros(3)}}, tmp_path / "extra.pth")
    assert "extra_head.weight" in _error(tmp_path / "extra.pth")


@pytest.mark.parametrize("drop", ["class_embed.bias", "query_embed.weight",
                                  "backbone.0.body.layer3.0.bn2.running_var"])
def test_missing_keys(tmp_path, tiny_sd, drop):
    sd = {k: v for k, v in tiny_sd.items() if k != drop}
    torch.save({"model": sd}, tmp_path / "partial.pth")
    message = _error(tmp_path / "partial.pth")
    assert "missing keys" in message and drop in message


@pytest.mark.parametrize("obj,text", [({"epoch": 3, "lr": 0.1}, "no model weights"),
                                      (torch.zeros(3), "holds a Tensor"),
                                      ([1, 2, 3], "holds a list")])
def test_no_weights(tmp_path, obj, text):
    torch.save(obj, tmp_path / "thing.pth")
    assert text in _error(tmp_path / "thing.pth")


def test_official_safetensors_without_config(tmp_path, tiny_sd):
    save_file(tiny_sd, tmp_path / "weights.safetensors")
    assert load_checkpoint(tmp_path / "weights.safetensors").kind == "official"
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    assert "not a readable safetensors file" in _error(tmp_path / "broken.safetensors")


def test_loaded_weights_do_not_follow_the_file(tmp_path, tiny_sd):
    save_file(tiny_sd, tmp_path / "weights.safetensors")
    loaded = load_checkpoint(tmp_path / "weights.safetensors")
    save_file({k: v + 1 for k, v in tiny_sd.items()}, tmp_path / "new.safetensors")
    shutil.copyfile(tmp_path / "new.safetensors", tmp_path / "weights.safetensors")  # rewrites in place
    for key, tensor in loaded.model.state_dict().items():
        assert torch.equal(tensor, tiny_sd[key]), key


def test_hf_weights_without_config_json(tmp_path):
    save_file({"model.input_projection.weight": torch.zeros(4, 8, 1, 1),
               "class_labels_classifier.weight": torch.zeros(3, 4)}, tmp_path / "hf.safetensors")
    assert "without their config.json" in _error(tmp_path / "hf.safetensors")


def test_folder_without_config(tmp_path):
    assert "folder without config.json" in _error(tmp_path)


def _hf_config(**changes) -> dict:
    return {"model_type": "detr", "architectures": ["DetrForObjectDetection"], "d_model": 64, **changes}


def test_hf_folder_without_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(_hf_config()))
    message = _error(tmp_path)
    assert "no weights in Hugging Face folder" in message and "model.safetensors" in message


@pytest.mark.parametrize("text,expected", [
    ('{"model_type": "detr", "d_model": 64,', "malformed"),
    ('["detr"]', "expected a JSON object"),
    (json.dumps(_hf_config(model_type="yolos")), "'yolos' model, not DETR"),
    (json.dumps(_hf_config(d_model="wide")), "d_model should be int"),
    (json.dumps(_hf_config(position_embedding_type="learned")), "position_embedding_type 'learned'"),
    (json.dumps(_hf_config(activation_function="gelu")), "activation_function 'gelu'"),
    (json.dumps(_hf_config(encoder_attention_heads=8, decoder_attention_heads=4)), "differs from"),
    (json.dumps(_hf_config(backbone_config={"model_type": "swin"})), "backbone 'swin' is not supported"),
    (json.dumps(_hf_config(backbone="resnet50d")), "backbone 'resnet50d' is not supported"),
])
def test_bad_config_json(tmp_path, text, expected):
    (tmp_path / "config.json").write_text(text)
    save_file({"model.input_projection.weight": torch.zeros(4, 8, 1, 1)}, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match=expected) as info:
        load_checkpoint(tmp_path)
    assert str(tmp_path / "config.json") in str(info.value)
