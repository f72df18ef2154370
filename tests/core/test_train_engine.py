"""The training loop on CPU: exact resume, stop on request, non-finite loss, the event stream,
gradient accumulation and the learning-rate schedule."""
from __future__ import annotations

import hashlib
import json

import pytest
import torch

from detr_core.checkpoints import load_checkpoint, read_checkpoint_state
from detr_core.train.engine import train
from detr_core.errors import NonFiniteLossError
from detr_core.train.events import EVENT_TYPES, SCHEMA
from detr_core.train.optim import LRSchedule, build_optimizer
from detr_core.train.config import TrainConfig

from test_train_helpers import Recorder, shapes_dataset, stop_after, tiny_config, tiny_model, train_data

CFG = TrainConfig(epochs=2, batch_size=2, num_workers=0, lr=2e-4, lr_backbone=1e-4, seed=11,
                  warmup_steps=2, schedule="cosine")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes")
    return shapes_dataset(folder / "train", 6), shapes_dataset(folder / "val", 2, seed=4)


@pytest.fixture(scope="module")
def uninterrupted(shapes, tmp_path_factory):
    """2 epochs x 3 steps without a break: the reference for the resume tests."""
    run = tmp_path_factory.mktemp("full")
    model = tiny_model(seed=0)
    rec = Recorder()
    result = train(CFG, model, train_data(shapes[0], shapes[1]), rec, model_config=tiny_config(), run_dir=run)
    return model, rec, result, run


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("stop_at", [4, 3])  # mid-epoch, and at the epoch boundary
def test_resume_after_interruption_gives_identical_weights(shapes, uninterrupted, tmp_path, stop_at):
    full_model, _, _, _ = uninterrupted
    model = tiny_model(seed=0)
    rec = Recorder()
    first = train(CFG, model, train_data(shapes[0], shapes[1]), rec, stop_after(stop_at, rec),
                  model_config=tiny_config(), run_dir=tmp_path)
    assert first.status == "stopped" and first.step == stop_at
    assert rec.events[-1]["type"] == "end" and rec.events[-1]["status"] == "stopped"
    assert rec.of("checkpoint")[-1]["reason"] == "stopped"
    assert not torch.equal(model.class_embed.weight, full_model.class_embed.weight)

    torch.manual_seed(1234)  # the resumed process starts from other random state entirely
    raw = read_checkpoint_state(tmp_path / "checkpoint.pth")
    resumed = load_checkpoint(tmp_path / "checkpoint.pth").model
    rec2 = Recorder()
    second = train(CFG, resumed, train_data(shapes[0], shapes[1]), rec2, model_config=tiny_config(),
                   run_dir=tmp_path, resume=raw["state"])
    assert second.status == "completed" and second.step == 6
    assert rec2.events[0]["resumed"] and rec2.events[0]["start_step"] == stop_at
    assert [e["step"] for e in rec2.of("step")] == list(range(stop_at + 1, 7))
    full = full_model.state_dict()
    for key, value in resumed.state_dict().items():
        assert torch.equal(value, full[key]), key


@pytest.mark.slow
def test_event_stream_follows_the_contract(uninterrupted):
    _, rec, result, run = uninterrupted
    events = rec.events
    assert [e["type"] for e in events][0] == "start" and events[-1]["type"] == "end"
    assert all(e["schema"] == SCHEMA and e["type"] in EVENT_TYPES and isinstance(e["time"], float)
               for e in events)
    json.dumps(events, allow_nan=False)  # strict JSON
    start = events[0]
    assert (start["epochs"], start["steps_per_epoch"], start["total_steps"], start["batch_size"]) == (2, 3, 6, 2)
    steps = rec.of("step")
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 5, 6]
    assert [(s["epoch"], s["epoch_step"]) for s in steps] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
    for s in steps:
        assert {"loss_ce", "loss_bbox", "loss_giou", "loss_ce_0", "class_error", "cardinality_error"} <= set(s["losses"])
        assert s["images_per_s"] > 0 and s["eta_s"] >= 0 and s["lr"] > 0 and s["grad_norm"] > 0
    assert steps[-1]["eta_s"] == 0 or steps[-1]["eta_s"] < steps[0]["eta_s"]
    order = [e["type"] for e in events if e["type"] != "step"]
    assert order == ["start", "eval", "epoch", "checkpoint", "eval", "epoch", "checkpoint", "end"]
    evals = rec.of("eval")
    assert set(evals[0]["metrics"]) >= {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100",
                                        "ARs", "ARm", "ARl", "per_class"}
    for e in evals:  # the validation loss, in evaluation mode on the validation images
        assert e["loss"] > 0 and {"loss_ce", "loss_bbox", "loss_giou", "loss_ce_0"} <= set(e["losses"])
    epochs = rec.of("epoch")
    assert epochs[1]["metrics"] == evals[1]["metrics"]
    assert epochs[0]["loss"] == pytest.approx(sum(s["loss"] for s in steps[:3]) / 3)
    end = events[-1]
    assert end["status"] == "completed" and end["model"] == str(run / "model.pth")
    assert end["metrics"] == evals[-1]["metrics"]
    meta = load_checkpoint(run / "model.pth").metadata
    assert meta["category_ids"] == [1, 2, 3, 4, 5] and meta["step"] == 6


@pytest.mark.slow
def test_non_finite_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(shapes, tmp_path):
    model = tiny_model(seed=0)
    saved = {}

    def poison(event):  # after epoch 1's checkpoint the weights go bad, as in a divergence
        if event.TYPE == "checkpoint":
            saved["sha"] = _sha(tmp_path / "checkpoint.pth")
            with torch.no_grad():
                model.class_embed.bias[0] = float("nan")

    rec = Recorder(poison)
    with pytest.raises(NonFiniteLossError) as info:
        train(CFG, model, train_data(shapes[0]), rec, model_config=tiny_config(), run_dir=tmp_path)
    message = str(info.value)
    assert "step 4 (epoch 2)" in message and "pred_logits" in message and "\n" not in message
    error = rec.events[-1]
    assert error["type"] == "error" and error["kind"] == "non_finite_loss" and error["step"] == 3
    assert error["checkpoint"] == str(tmp_path / "checkpoint.pth")
    assert _sha(tmp_path / "checkpoint.pth") == saved["sha"]  # untouched
    assert read_checkpoint_state(tmp_path / "checkpoint.pth")["state"]["step"] == 3
    assert not (tmp_path / "model.pth").exists()


@pytest.mark.slow
def test_gradient_accumulation_counts_optimizer_steps(shapes):
    rec = Recorder()
    cfg = CFG.replace(epochs=1, batch_size=1, accumulate=2)
    before = tiny_model(seed=0).state_dict()
    model = tiny_model(seed=0)
    result = train(cfg, model, train_data(shapes[0]), rec, model_config=tiny_config())
    assert result.step == 3 and [e["step"] for e in rec.of("step")] == [1, 2, 3]
    assert rec.events[0]["batch_size"] == 2
    assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_frozen_backbone_does_not_change(shapes):
    model = tiny_model(seed=0)
    backbone = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head = model.class_embed.weight.clone()
    train(CFG.replace(epochs=1, freeze_backbone=True), model, train_data(shapes[0]), None,
          model_config=tiny_config())
    assert all(torch.equal(v, backbone[k]) for k, v in model.backbone.state_dict().items())
    assert not torch.equal(model.class_embed.weight, head)


def test_learning_rate_schedules():
    model = tiny_model()
    step_cfg = TrainConfig(epochs=3, lr=1e-4, lr_backbone=1e-5, warmup_steps=4, lr_drop=2)
    opt = build_optimizer(model, step_cfg)
    schedule = LRSchedule(opt, step_cfg, steps_per_epoch=10)
    schedule.apply(0)
    assert schedule.lr_of("main") == pytest.approx(1e-6) and schedule.lr_of("backbone") == pytest.approx(1e-7)
    schedule.apply(2)
    assert schedule.lr_of("main") == pytest.approx(1e-4 * (0.01 + 0.99 * 2 / 4))
    schedule.apply(19)
    assert schedule.lr_of("main") == pytest.approx(1e-4)
    schedule.apply(20)
    assert schedule.lr_of("main") == pytest.approx(1e-5) and schedule.lr_of("backbone") == pytest.approx(1e-6)
    cos_cfg = step_cfg.replace(schedule="cosine", min_lr_ratio=0.1)
    cosine = LRSchedule(build_optimizer(model, cos_cfg), cos_cfg, steps_per_epoch=10)
    assert cosine.factor(4) == pytest.approx(1.0)
    assert cosine.factor(17) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway through 4..30
    assert cosine.factor(30) == pytest.approx(0.1)
    assert TrainConfig(epochs=30).drop_epoch == 20
    assert TrainConfig(epochs=30, drop_fraction=0.8).drop_epoch == 24
    assert TrainConfig(drop_fraction=0.8).drop_step(10, planned_steps=150) == 120  # a time budget's plan
    with pytest.raises(ValueError, match="drop_fraction"):
        TrainConfig(drop_fraction=0)
