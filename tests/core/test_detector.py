"""The Detector: equal to the plain model, batch-independent, attention on request."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from detr_core.model.config import preset
from detr_core.infer.detector import Detector
from detr_core.model.detr import build
from detr_core.errors import DeviceError, ImageError
from detr_core.infer.preprocess import preprocess


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = preset("tiny", num_classes=4)
    model = build(cfg).eval()
    # Give the frozen batch norms real statistics so folding them is actually exercised.
    for m in model.modules():
        if m.__class__.__name__ == "FrozenBatchNorm2d":
            m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.1, 0.1), m.running_var.uniform_(0.5, 2.0)
    return cfg, model, Detector(model, cfg, ["a", "b", "c", "d"], device="cpu")


def _image(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))


def test_equals_the_plain_model(tiny):
    cfg, model, det = tiny
    image = _image(320, 240)
    result = det(image)
    with torch.no_grad():
        out = model(preprocess(image, cfg.min_size, cfg.max_size)[None])
    np.testing.assert_allclose(result.logits, out["pred_logits"][0].numpy(), atol=1e-4)
    np.testing.assert_allclose(result.boxes_cxcywh, out["pred_boxes"][0].numpy(), atol=1e-5)
    assert len(result) == cfg.num_queries and result.image_size == (320, 240)
    assert result.input_size == (256, 341)


def test_batch_of_one_equals_batch_of_many(tiny):
    _, _, det = tiny
    images = [_image(320, 240, 1), _image(200, 400, 2), _image(333, 250, 3)]
    alone = [det(im, attention=True) for im in images]
    together = det(images, attention=True)
    for a, b in zip(alone, together):
        np.testing.assert_allclose(a.logits, b.logits, atol=1e-5)
        np.testing.assert_allclose(a.boxes_xyxy, b.boxes_xyxy, atol=1e-3)
        np.testing.assert_allclose(a.attention.decoder, b.attention.decoder, atol=1e-6)
        np.testing.assert_allclose(a.attention.encoder, b.attention.encoder, atol=1e-6)


def test_attention_maps(tiny):
    cfg, _, det = tiny
    result = det(_image(320, 240), attention=True)
    maps = result.attention
    h, w = 8, 11  # ceil(256 / 32), ceil(341 / 32)
    assert maps.decoder.shape == (cfg.num_queries, h, w)
    np.testing.assert_allclose(maps.decoder.sum(axis=(1, 2)), 1.0, atol=1e-5)
    assert maps.encoder.shape == (h * w, h, w)
    np.testing.assert_allclose(maps.encoder.sum(axis=(1, 2)), 1.0, atol=1e-5)
    assert maps.decoder_layers is None
    everything = det(_image(320, 240), attention="all").attention
    assert everything.decoder_layers.shape == (cfg.dec_layers, cfg.nheads, cfg.num_queries, h, w)
    assert everything.encoder_layers.shape == (cfg.enc_layers, cfg.nheads, h * w, h, w)
    np.testing.assert_allclose(everything.decoder_layers[-1].mean(0), maps.decoder, atol=1e-6)
    assert det(_image(320, 240)).attention is None


def test_attention_geometry_maps_cells_onto_image_pixels(tiny):
    _, _, det = tiny
    maps = det(_image(640, 480), attention=True).attention  # input 256x341: 0.533 input px per px
    assert maps.stride == 32 and maps.scale == pytest.approx((640 / 341, 480 / 256))
    one_hot = np.zeros(maps.feature_size, np.float32)
    one_hot[2, 5] = 1.0
    up = maps.upsample(one_hot, smooth=False)
    assert up.shape == (480, 640)
    ys, xs = np.nonzero(up)
    sx, sy = maps.scale
    # Cell (2, 5) covers input pixels x 160..192, y 64..96.
    assert xs.min() == pytest.approx(5 * 32 * sx, abs=2) and xs.max() == pytest.approx(6 * 32 * sx, abs=2)
    assert ys.min() == pytest.approx(2 * 32 * sy, abs=2) and ys.max() == pytest.approx(3 * 32 * sy, abs=2)
    assert maps.cell_at(xs.mean(), ys.mean()) == (2, 5)
    row, col = maps.cell_at(639, 479)
    assert (row, col) == (7, 10)
    assert maps.encoder_at(639, 479).shape == maps.feature_size


def test_filtering_never_reruns_and_coco_output(tiny):
    _, _, det = tiny
    result = det(_image(320, 240))
    everything = result.filter(0.0)
    assert len(everything) == len(result)
    assert [d.score for d in everything] == sorted((d.score for d in everything), reverse=True)
    top = result.filter(0.0, topk=3)
    assert len(top) == 3 and top[0].score == everything[0].score
    cut = float(np.median(result.scores))
    assert all(d.score >= cut for d in result.filter(cut))
    coco = result.to_coco(7, "x.jpg", threshold=0.0, topk=2)
    x0, y0, x1, y1 = top[0].box_xyxy
    assert coco[0]["image_id"] == 7 and coco[0]["file_name"] == "x.jpg"
    assert coco[0]["bbox"] == pytest.approx([x0, y0, x1 - x0, y1 - y0], abs=0.01)
    assert coco[0]["query"] == top[0].query and coco[0]["category_id"] == top[0].label


def test_paths_exif_and_errors(tiny, tmp_path):
    _, _, det = tiny
    img = _image(60, 30)
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(tmp_path / "r.jpg", exif=exif.tobytes())
    result = det(tmp_path / "r.jpg")
    assert result.image_size == (30, 60) and result.source == str(tmp_path / "r.jpg")
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(ImageError, match="bad.png"):
        det([tmp_path / "r.jpg", tmp_path / "bad.png"])


@pytest.mark.slow
def test_devices_and_precision(tiny):
    cfg, model, _ = tiny
    with pytest.raises(DeviceError, match="cuda"):
        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
        Detector(model, cfg, list("abcd"), device="cuda")
    with pytest.raises(DeviceError, match="unknown"):
        Detector(model, cfg, list("abcd"), device="tpu")
    with pytest.raises(DeviceError, match="fp16"):
        Detector(model, cfg, list("abcd"), device="cpu", precision="fp16")
    fp32 = Detector(model, cfg, list("abcd"), device="cpu")(_image(320, 240))
    bf16 = Detector(model, cfg, list("abcd"), device="cpu", precision="reduced")(_image(320, 240))
    assert bf16.logits.dtype == np.float32
    np.testing.assert_allclose(bf16.boxes_cxcywh, fp32.boxes_cxcywh, atol=0.05)


def test_reduced_precision_keeps_the_decoder_in_fp32(tiny):
    cfg, model, _ = tiny
    det = Detector(model, cfg, list("abcd"), device="cpu", precision="bf16")
    dtypes = {}
    hooks = [m.register_forward_hook(lambda mod, args, out, name=name: dtypes.__setitem__(name, out.dtype))
             for name, m in [("backbone", det.model.backbone[0]), ("encoder", det.model.transformer.encoder),
                             ("decoder", det.model.transformer.decoder)]]
    try:
        det(_image(320, 240))
    finally:
        for h in hooks:
            h.remove()
    assert dtypes["backbone"] == dtypes["encoder"] == torch.bfloat16
    assert dtypes["decoder"] == torch.float32
    assert model.transformer.decoder.full_precision is False  # the caller's model is untouched
