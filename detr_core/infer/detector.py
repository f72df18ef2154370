"""`Detector`: model + preprocessing + postprocessing + device, used by the CLI and the workbench.

Each image's backbone runs on that image alone (no padding reaches the convolutions), then the
transformer runs on the batch with padding masks: an image's detections do not depend on the other
images of its batch. Plain detection uses fused attention and computes no attention weights.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..model.attention import capture_attention
from .attention_maps import AttentionMaps
from ..model.box_ops import box_cxcywh_to_xyxy
from ..model.config import ModelConfig
from .detections import Detections
from ..model.detr import DETR
from ..devices import autocast, resolve_device, resolve_precision
from .fast.fuse import optimize_for_inference
from ..images import load_image, prepare_image
from .preprocess import preprocess

ImageInput = Union[Image.Image, str, os.PathLike]


class Detector:
    def __init__(self, model: DETR, config: ModelConfig, class_names: Sequence[str], *,
                 device: str | torch.device = "auto", precision: str = "fp32",
                 min_size: int | None = None, max_size: int | None = None, description: str = "",
                 category_ids: Sequence[int] | None = None):
        """`model` is copied and optimised for inference on `device`; the original is untouched.
        precision: "fp32", "bf16", "fp16" or "reduced" (bf16 on CPU, fp16 on GPUs).
        category_ids: the dataset category id of each model class, when they differ."""
        self.device = resolve_device(device)
        self.precision = precision
        self.autocast_dtype = resolve_precision(precision, self.device)
        self.config = config
        self.class_names = list(class_names)
        self.min_size = min_size or config.min_size
        self.max_size = max_size or config.max_size
        self.description = description
        self.category_ids = list(category_ids) if category_ids else None
        self.model = optimize_for_inference(model, self.device, fuse_kernels=self.autocast_dtype is None)
        # Reduced precision covers the backbone and the encoder; the decoder stays fp32, which keeps
        # detections within 0.02 in score of fp32 (bench_inference checks it on the bundled samples).
        self.model.transformer.decoder.full_precision = self.autocast_dtype is not None

    @classmethod
    def from_checkpoint(cls, source: str | os.PathLike, *, device: str | torch.device = "auto",
                        precision: str = "fp32", min_size: int | None = None,
                        max_size: int | None = None) -> "Detector":
        """Any checkpoint `detr_core.checkpoints.load_checkpoint` reads: an official .pth, a
        Hugging Face folder, a project checkpoint, or an official name such as "detr-r50"."""
        from ..checkpoints import load_checkpoint

        loaded = load_checkpoint(source)
        return cls(loaded.model, loaded.config, loaded.class_names, device=device, precision=precision,
                   min_size=min_size, max_size=max_size, description=loaded.description,
                   category_ids=loaded.metadata.get("category_ids"))

    def __call__(self, images: ImageInput | Sequence[ImageInput], *,
                 attention: bool | str = False, layers: bool = False) -> Detections | list[Detections]:
        return self.detect(images, attention=attention, layers=layers)

    def detect(self, images: ImageInput | Sequence[ImageInput], *,
               attention: bool | str = False, layers: bool = False) -> Detections | list[Detections]:
        """One image (PIL image or path) -> Detections; a list -> a list of Detections.

        attention: False (fastest), True / "last" (last decoder layer's cross-attention and last
        encoder layer's self-attention, averaged over heads), or "all" (also every layer and head).
        layers: also every decoder layer's class logits and boxes (Detections.layer_logits,
        .layer_boxes_cxcywh), from the auxiliary heads the model already has.
        Raises ImageError (naming the file) for an image that cannot be read."""
        single = isinstance(images, (Image.Image, str, os.PathLike))
        batch = [images] if single else list(images)
        loaded = [self._load(item) for item in batch]
        results = self._run([image for image, _ in loaded], attention, layers)
        for result, (_, source) in zip(results, loaded):
            result.source = source
        return results[0] if single else results

    @staticmethod
    def _load(item: ImageInput) -> tuple[Image.Image, str | None]:
        if isinstance(item, Image.Image):
            return prepare_image(item), None
        return load_image(item), str(Path(item))

    @torch.inference_mode()
    def _run(self, images: list[Image.Image], attention: bool | str,
             layers: bool = False) -> list[Detections]:
        model = self.model
        inputs = [preprocess(image, self.min_size, self.max_size) for image in images]  # [3, h, w]
        with autocast(self.device, self.autocast_dtype):
            features = [model.backbone[0](self._to_device(x[None])) for x in inputs]  # [1, C, h_i, w_i]
            feats, feature_mask = _pad_features(features)  # [B, C, h, w], [B, h, w]
            pos = model.backbone[1](feature_mask).to(feats.dtype)
            if attention:
                everything = attention == "all"
                spec = "all" if everything else "last"
                with capture_attention(model.transformer, decoder=spec, encoder=spec,
                                       per_head=everything) as captured:
                    out = model.forward_features(feats, feature_mask, pos, aux=layers)
            else:
                captured = None
                out = model.forward_features(feats, feature_mask, pos, aux=layers)
        logits = out["pred_logits"].float().cpu()  # [B, Q, K+1]
        boxes = out["pred_boxes"].float().cpu()  # [B, Q, 4] cxcywh in [0, 1]
        if layers:  # [L, B, Q, K+1] and [L, B, Q, 4]: every decoder layer, the last one last
            layer_logits = torch.stack([a["pred_logits"].float().cpu() for a in out["aux_outputs"]]
                                       + [logits])
            layer_boxes = torch.stack([a["pred_boxes"].float().cpu() for a in out["aux_outputs"]] + [boxes])
        results = []
        for b, (image, x, f) in enumerate(zip(images, inputs, features)):
            maps = _attention_for(captured, b, f.shape[-2:], feature_mask.shape[-2:], image.size,
                                  tuple(x.shape[-2:]), self.config.stride) if captured else None
            result = _postprocess(logits[b], boxes[b], image.size, tuple(x.shape[-2:]),
                                  self.class_names, maps)
            if layers:
                result.layer_logits = layer_logits[:, b].numpy()
                result.layer_boxes_cxcywh = layer_boxes[:, b].numpy()
            results.append(result)
        return results

    def _to_device(self, x: Tensor) -> Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.device.type in ("cpu", "cuda"):
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def _pad_features(features: list[Tensor]) -> tuple[Tensor, Tensor]:
    """[1, C, h_i, w_i] each -> [B, C, h, w] zero-padded, mask [B, h, w] (True = padding)."""
    C = features[0].shape[1]
    h = max(f.shape[-2] for f in features)
    w = max(f.shape[-1] for f in features)
    if len(features) == 1:
        f = features[0]
        return f, torch.zeros(1, h, w, dtype=torch.bool, device=f.device)
    out = features[0].new_zeros(len(features), C, h, w).contiguous(memory_format=torch.channels_last)
    mask = torch.ones(len(features), h, w, dtype=torch.bool, device=features[0].device)
    for i, f in enumerate(features):
        out[i, :, : f.shape[-2], : f.shape[-1]] = f[0]
        mask[i, : f.shape[-2], : f.shape[-1]] = False
    return out, mask


def _postprocess(logits: Tensor, boxes_cxcywh: Tensor, image_size: tuple[int, int],
                 input_size: tuple[int, int], class_names: list[str],
                 maps: AttentionMaps | None) -> Detections:
    """logits [Q, K+1], boxes [Q, 4] -> Detections with boxes in original pixels (xyxy)."""
    prob = logits.softmax(-1)[:, :-1]  # [Q, K] drop "no object"
    scores, labels = prob.max(-1)
    width, height = image_size
    scale = torch.tensor([width, height, width, height], dtype=torch.float32)
    boxes_xyxy = box_cxcywh_to_xyxy(boxes_cxcywh) * scale
    return Detections(image_size=image_size, input_size=input_size, class_names=class_names,
                      labels=labels.numpy().astype(np.int64), scores=scores.numpy(),
                      boxes_xyxy=boxes_xyxy.numpy(), logits=logits.numpy(),
                      boxes_cxcywh=boxes_cxcywh.numpy(), attention=maps)


def _attention_for(captured, b: int, size: tuple[int, int], padded: tuple[int, int],
                   image_size: tuple[int, int], input_size: tuple[int, int], stride: int) -> AttentionMaps:
    """Crop image b's maps out of the padded batch's: [.., Hp*Wp] -> [.., h, w]."""
    h, w = size
    Hp, Wp = padded

    def crop_keys(t: Tensor) -> Tensor:  # [..., Hp*Wp] -> [..., h, w]
        return t.reshape(*t.shape[:-1], Hp, Wp)[..., :h, :w]

    def crop_queries(t: Tensor) -> Tensor:  # [..., Hp*Wp, h, w] -> [..., h*w, h, w]
        t = t.reshape(*t.shape[:-3], Hp, Wp, h, w)[..., :h, :w, :, :]
        return t.reshape(*t.shape[:-4], h * w, h, w)

    last_dec = max(captured.decoder_cross)
    last_enc = max(captured.encoder_self)
    dec = captured.decoder_cross[last_dec][b]  # [Q, S] or [heads, Q, S]
    enc = captured.encoder_self[last_enc][b]  # [S, S] or [heads, S, S]
    per_head = dec.dim() == 3
    decoder_layers = encoder_layers = None
    if per_head:
        decoder_layers = torch.stack([crop_keys(captured.decoder_cross[i][b])
                                      for i in sorted(captured.decoder_cross)]).numpy()
        encoder_layers = torch.stack([crop_queries(crop_keys(captured.encoder_self[i][b]))
                                      for i in sorted(captured.encoder_self)]).numpy()
        dec, enc = dec.mean(0), enc.mean(0)
    return AttentionMaps(decoder=crop_keys(dec).numpy(), encoder=crop_queries(crop_keys(enc)).numpy(),
                         image_size=image_size, input_size=input_size, stride=stride,
                         decoder_layers=decoder_layers, encoder_layers=encoder_layers)
