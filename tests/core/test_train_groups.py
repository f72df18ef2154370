"""Group DETR training (train/groups.py): K query groups while training, one in the saved model.

K = 1 is bitwise the reference step; K identical groups give identical outputs and the loss of
one group; group 0 of a grouped forward is the model's own (so inference does not depend on K);
a model trained with groups saves exactly the official keys and shapes."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from detr_core.checkpoints import load_checkpoint, read_checkpoint_state
from detr_core.data.batching import collate
from detr_core.infer.detector import Detector
from detr_core.model.criterion import SetCriterion
from detr_core.model.detr import build
from detr_core.train.config import TrainConfig
from detr_core.train.engine import train
from detr_core.train.groups import GroupedDETR, repeat_targets
from detr_core.train.optim import LRSchedule, build_optimizer
from detr_core.train.step import TrainStep

from test_train_helpers import Recorder, shapes_dataset, tiny_config, tiny_model, train_data


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes")
    return shapes_dataset(folder / "train", 4), shapes_dataset(folder / "val", 2, seed=4)


def _batch(shapes, n=2):
    data = train_data(shapes[0])
    data.train.set_epoch(0)
    return collate([data.train[i] for i in range(n)])


def test_decoder_layer_with_one_group_is_the_reference_layer_bitwise():
    model = tiny_model(seed=1).eval()
    layer = model.transformer.decoder.layers[0]
    B, Q, S, C = 2, model.num_queries, 12, model.transformer.d_model
    gen = torch.Generator().manual_seed(0)
    tgt, query_pos = torch.randn(B, Q, C, generator=gen), torch.randn(B, Q, C, generator=gen)
    memory, pos = torch.randn(B, S, C, generator=gen), torch.randn(B, S, C, generator=gen)
    with torch.no_grad():
        got = layer(tgt, memory, None, pos, query_pos, groups=1)
        q = k = tgt + query_pos  # the reference's post-norm decoder layer, written out
        ref = layer.norm1(tgt + layer.dropout1(layer.self_attn(q, k, tgt)))
        ref2 = layer.multihead_attn(ref + query_pos, memory + pos, memory, None)
        ref = layer.norm2(ref + layer.dropout2(ref2))
        ref = layer.norm3(ref + layer.dropout3(layer.linear2(layer.dropout(F.relu(layer.linear1(ref))))))
    assert torch.equal(got, ref)


def test_one_group_step_is_bitwise_the_reference_step(shapes):
    """TrainStep with groups=1 against forward / loss / backward / clip / AdamW written out."""
    batch = _batch(shapes)
    cfg = TrainConfig(lr=2e-4, lr_backbone=1e-4, num_workers=0)
    a, b = tiny_model(seed=2), tiny_model(seed=2)
    crit = SetCriterion(5, cfg.criterion)
    opt_a = build_optimizer(a, cfg)
    stepper = TrainStep(cfg, a, crit, opt_a, LRSchedule(opt_a, cfg, 2), torch.autocast("cpu", enabled=False),
                        None, torch.device("cpu"), None, None, a)
    torch.manual_seed(5)
    stepper.run([batch], 0, 0)
    opt_b = build_optimizer(b, cfg)
    torch.manual_seed(5)
    loss = crit(b(batch.images, batch.mask), batch.targets)["loss"]
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for g in opt_b.param_groups for p in g["params"]], cfg.clip_max_norm)
    opt_b.step()
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_identical_groups_give_identical_outputs_and_the_loss_of_one_group(shapes):
    batch = _batch(shapes)
    model = tiny_model(seed=3).eval()
    K = 3
    grouped = GroupedDETR(model, K)
    with torch.no_grad():
        grouped.extra_queries.copy_(model.query_embed.weight.expand(K - 1, -1, -1))
        out = grouped(batch.images, batch.mask)
        plain = model(batch.images, batch.mask)
    B, Q = plain["pred_logits"].shape[:2]
    logits = out["pred_logits"].reshape(B, K, Q, -1)  # rows b*K + g
    boxes = out["pred_boxes"].reshape(B, K, Q, 4)
    for g in range(1, K):
        torch.testing.assert_close(logits[:, g], logits[:, 0], rtol=0, atol=1e-6)
        torch.testing.assert_close(boxes[:, g], boxes[:, 0], rtol=0, atol=1e-6)
    crit = SetCriterion(5)
    with torch.no_grad():
        grouped_loss = crit(out, repeat_targets(batch.targets, K))["loss"]
        plain_loss = crit(plain, batch.targets)["loss"]
    torch.testing.assert_close(grouped_loss, plain_loss, rtol=1e-5, atol=1e-6)


def test_group_zero_of_a_grouped_forward_is_the_models_own_output(shapes):
    """Groups never see each other: group 0's outputs are what inference (one group) computes."""
    batch = _batch(shapes)
    model = tiny_model(seed=4).eval()
    grouped = GroupedDETR(model, 4, init="fresh", seed=1)
    with torch.no_grad():
        out = grouped(batch.images, batch.mask)
        plain = model(batch.images, batch.mask)
    B, Q = plain["pred_logits"].shape[:2]
    torch.testing.assert_close(out["pred_logits"].reshape(B, 4, Q, -1)[:, 0], plain["pred_logits"],
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out["pred_boxes"].reshape(B, 4, Q, 4)[:, 0], plain["pred_boxes"],
                               rtol=1e-5, atol=1e-5)
    # the other groups are different queries, so different outputs
    assert not torch.allclose(out["pred_boxes"].reshape(B, 4, Q, 4)[:, 1], plain["pred_boxes"], atol=1e-3)


def test_a_model_trained_with_groups_saves_the_official_layout(shapes, tmp_path):
    model = tiny_model(seed=0)
    cfg = TrainConfig(epochs=1, batch_size=2, num_workers=0, groups=3, seed=1)
    rec = Recorder()
    result = train(cfg, model, train_data(shapes[0]), rec, model_config=tiny_config(), run_dir=tmp_path)
    assert result.status == "completed" and result.step == 2
    reference = build(tiny_config()).state_dict()
    saved = torch.load(tmp_path / "model.pth", weights_only=True)["model"]
    assert list(saved) == list(reference)
    assert all(saved[k].shape == reference[k].shape for k in reference)
    raw = read_checkpoint_state(tmp_path / "checkpoint.pth")
    assert tuple(raw["state"]["group_queries"].shape) == (2, model.num_queries, model.transformer.d_model)
    # the Detector of the saved model is the Detector of the trained weights: no trace of K
    loaded = load_checkpoint(tmp_path / "model.pth")
    image = torch.rand(3, 120, 150)
    from PIL import Image
    pil = Image.fromarray((image.permute(1, 2, 0).numpy() * 255).astype("uint8"))
    names = ["a", "b", "c", "d", "e"]
    got = Detector(loaded.model, loaded.config, names).detect([pil])[0]
    want = Detector(copy.deepcopy(model).cpu(), tiny_config(), names).detect([pil])[0]
    torch.testing.assert_close(torch.as_tensor(got.scores), torch.as_tensor(want.scores))
