"""Fine-tuning onto another class set (head rows kept by class name), the frozen batch-norm
calibration and batch statistics for from-scratch backbones, and the training-time folding."""
from __future__ import annotations

import torch

from detr_core.model.backbone import FrozenBatchNorm2d
from detr_core.checkpoints import load_checkpoint, save_checkpoint
from detr_core.cli.main import main
from detr_core.train.finetune import calibrate_frozen_batchnorm, transfer_to_classes
from detr_core.train.fold import folded_for_training

from test_train_helpers import shapes_dataset, tiny_config, tiny_model

BASE_NAMES = ["person", "traffic_light", "N/A", "Square"]


def test_head_rows_are_kept_by_class_name_and_the_rest_reinitialised():
    base = tiny_model(seed=0, num_classes=4)
    model, config, report = transfer_to_classes(base, tiny_config(num_classes=4), BASE_NAMES,
                                                ["square", "dog", "Traffic Light"], seed=3)
    assert config.num_classes == 3 and model.class_embed.weight.shape == (4, 64)
    assert report.kept == ["square", "Traffic Light"] and report.new == ["dog"]
    assert "2 classes kept from the base model, 1 new (dog)" in report.describe()
    w, b = model.class_embed.weight, model.class_embed.bias
    bw, bb = base.class_embed.weight, base.class_embed.bias
    assert torch.equal(w[0], bw[3]) and torch.equal(b[0], bb[3])  # square <- Square
    assert torch.equal(w[2], bw[1])  # Traffic Light <- traffic_light
    assert torch.equal(w[3], bw[4]) and torch.equal(b[3], bb[4])  # "no object"
    assert not any(torch.allclose(w[1], row) for row in bw)  # dog: fresh
    base_state = base.state_dict()
    for key, value in model.state_dict().items():
        if not key.startswith("class_embed."):
            assert torch.equal(value, base_state[key]), key
    same, _, all_kept = transfer_to_classes(base, tiny_config(num_classes=4), BASE_NAMES, BASE_NAMES, seed=9)
    assert torch.equal(same.class_embed.weight, bw) and not all_kept.new


def test_fine_tune_command_moves_the_head_onto_the_data_classes(tmp_path):
    shapes = shapes_dataset(tmp_path / "data", 2)
    base = tiny_model(seed=0, num_classes=4)
    names = ["Circle", "bird", "N/A", "star"]
    save_checkpoint(tmp_path / "base.pth", base, tiny_config(num_classes=4), names)
    out = tmp_path / "run"
    code = main(["train", "--train-json", str(shapes), "--checkpoint", str(tmp_path / "base.pth"),
                 "--epochs", "1", "--batch-size", "2", "--lr", "1e-12", "--lr-backbone", "1e-12",
                 "--weight-decay", "0", "--workers", "0", "--device", "cpu", "--resolution", "256",
                 "--freeze-backbone", "--out", str(out)])
    assert code == 0
    tuned = load_checkpoint(out / "model.pth")
    assert tuned.class_names == ["circle", "square", "triangle", "star", "cross"]
    assert tuned.config.num_classes == 5 and tuned.config.min_size == 256
    w, bw = tuned.model.class_embed.weight, base.class_embed.weight
    assert torch.allclose(w[0], bw[0], atol=1e-8) and torch.allclose(w[3], bw[3], atol=1e-8)
    assert not torch.allclose(w[1], bw[1], atol=1e-3)
    backbone = base.backbone.state_dict()
    assert all(torch.equal(v, backbone[k]) for k, v in tuned.model.backbone.state_dict().items())
    assert tuned.metadata["base_checkpoint"] == str(tmp_path / "base.pth")


def test_fine_tuning_a_small_backbone_on_a_few_images_gives_it_10x_the_lr(tmp_path, capsys):
    """The recipe's backbone lr follows the starting model's backbone: the CPU presets' resnet18
    adapts at 1e-3 (the shifted-domain probes, README); what `train` prints is what it used."""
    shapes = shapes_dataset(tmp_path / "data", 2)
    save_checkpoint(tmp_path / "base.pth", tiny_model(seed=0, num_classes=5), tiny_config(num_classes=5),
                    ["circle", "square", "triangle", "star", "cross"])
    out = tmp_path / "run"
    code = main(["train", "--train-json", str(shapes), "--checkpoint", str(tmp_path / "base.pth"), "--epochs", "1",
                 "--device", "cpu", "--resolution", "192", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "  lr_backbone = 0.001: 2 images, a resnet18 backbone" in err
    saved = torch.load(out / "checkpoint.pth", weights_only=True)
    assert (saved["state"]["train_config"]["lr"], saved["state"]["train_config"]["lr_backbone"]) == (1e-4, 1e-3)


def _bn_outputs(model, x):
    seen = []  # copies: a ReLU follows some batch norms in place
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o.clone())) for m in model.backbone.modules()
             if isinstance(m, FrozenBatchNorm2d)]
    with torch.no_grad():
        features = model.backbone[0](x)
    for h in hooks:
        h.remove()
    return seen, features


def test_calibration_gives_zero_mean_unit_variance_batch_norm_outputs():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 96, 128)
    model = tiny_model(seed=1)
    raw, _ = _bn_outputs(model, x)  # identity batch norm: whatever scale each layer happens to have
    assert any(not 0.5 < out.var(dim=(0, 2, 3)).mean() < 2 for out in raw)
    assert calibrate_frozen_batchnorm(model, [x[:2], x[2:]]) == 15  # tiny without layer4
    outputs, _ = _bn_outputs(model, x)
    for out in outputs:
        assert out.mean(dim=(0, 2, 3)).abs().max() < 1e-3
        assert torch.allclose(out.var(dim=(0, 2, 3), unbiased=True), torch.ones(out.shape[1]), atol=2e-2)


def test_folding_keeps_outputs_gradients_and_state_keys():
    x = torch.randn(2, 3, 96, 128)
    model = tiny_model(seed=0, dropout=0.0)
    calibrate_frozen_batchnorm(model, [x])  # non-trivial statistics
    model.train()
    keys = list(model.state_dict())
    plain = model(x)["pred_boxes"]
    plain.sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    with folded_for_training(model, channels_last=True) as fold:
        assert len(fold.pairs) == 15  # stem, 6 BasicBlocks x 2, 2 downsamples (no layer4)
        assert list(model.state_dict()) == keys
        folded = model(x.contiguous(memory_format=torch.channels_last))["pred_boxes"]
        folded.sum().backward()
    assert torch.allclose(plain, folded, atol=1e-5)
    for n, p in model.named_parameters():
        if n in grads:
            assert torch.allclose(p.grad, grads[n], rtol=1e-3, atol=1e-6), n
    assert all(type(m) is FrozenBatchNorm2d for m in model.backbone.modules() if "bn" in type(m).__name__.lower())


def test_batch_statistics_normalise_per_batch_and_track_running_averages():
    model = tiny_model(seed=0)
    x = torch.randn(4, 3, 96, 128) * 5 + 2
    stem_bn = model.backbone[0].body.bn1
    with folded_for_training(model, batch_stats=True):
        model.train()
        model.backbone[0](x)
        after_one = stem_bn.running_mean.clone()
        model.eval()
        model.backbone[0](x)  # evaluation uses (and does not change) the running averages
        assert torch.equal(stem_bn.running_mean, after_one)
    assert not torch.equal(after_one, torch.zeros_like(after_one))
    assert type(stem_bn) is FrozenBatchNorm2d
