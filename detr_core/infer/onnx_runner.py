"""`OnnxDetector`: a DETR exported by `detr-workbench export`, run with onnxruntime. Torch-free:
numpy, Pillow and onnxruntime only, so a deployment needs neither torch nor a GPU build of it.

    detector = OnnxDetector.from_file("model.onnx")
    detections = detector.detect("image.jpg")          # the same Detections the Detector returns
    detections.filter(0.7)

Pre- and post-processing are the Detector's: EXIF orientation and RGB (`detr_core.images`), the
reference resize with the file's own min/max size, ImageNet normalisation from the file's metadata,
softmax without "no object", boxes cxcywh -> xyxy in original pixels. Images of equal input size
run together as one batch; others run alone, so, as with the Detector, no image's padding reaches
another image's backbone and a batch gives what each image gives alone.

onnxruntime's worker threads spin after a run and slow torch down in the same process
(onnxruntime #13808): spinning is off here.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np
from PIL import Image

from ..errors import CheckpointError
from ..images import load_image, prepare_image
from .detections import Detections
from .resize import resize_size

ImageInput = Union[Image.Image, str, os.PathLike]
METADATA_KEY = "detr_workbench"  # the JSON document `detr_core.export` writes into the file


@dataclass(frozen=True)
class OnnxMetadata:
    """What an exported file says about itself (ONNX metadata_props, key METADATA_KEY)."""

    class_names: list[str]
    category_ids: list[int] | None  # dataset category id of each model class, when they differ
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    min_size: int
    max_size: int
    stride: int
    num_queries: int
    checkpoint_sha256: str  # of the checkpoint the file was exported from
    description: str

    @classmethod
    def from_json(cls, text: str, where: str) -> "OnnxMetadata":
        try:
            data = json.loads(text)
            return cls(class_names=list(data["class_names"]),
                       category_ids=[int(c) for c in data["category_ids"]] if data.get("category_ids") else None,
                       mean=tuple(float(v) for v in data["mean"]), std=tuple(float(v) for v in data["std"]),
                       min_size=int(data["min_size"]), max_size=int(data["max_size"]),
                       stride=int(data["stride"]), num_queries=int(data["num_queries"]),
                       checkpoint_sha256=str(data["checkpoint_sha256"]),
                       description=str(data.get("description", "")))
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{where}: unreadable {METADATA_KEY} metadata ({type(e).__name__}: {e})") from None

    def to_json(self) -> str:
        return json.dumps({"class_names": self.class_names, "category_ids": self.category_ids,
                           "mean": list(self.mean), "std": list(self.std), "min_size": self.min_size,
                           "max_size": self.max_size, "stride": self.stride, "num_queries": self.num_queries,
                           "checkpoint_sha256": self.checkpoint_sha256, "description": self.description})


def session_options(threads: int = 0):
    """onnxruntime options for sharing a process with torch: no spinning threads (#13808).
    threads: intra-op threads, 0 for onnxruntime's default (one per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return options


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise CheckpointError("running an .onnx model needs onnxruntime: pip install 'detr-workbench[export]'") from None
    return onnxruntime


class OnnxDetector:
    """The Detector's `detect` over an exported .onnx file (CPU, fp32)."""

    def __init__(self, session, metadata: OnnxMetadata, source: str):
        self.session = session
        self.metadata = metadata
        self.source = source
        self.class_names = list(metadata.class_names)
        self.category_ids = metadata.category_ids
        self.min_size = metadata.min_size
        self.max_size = metadata.max_size
        self.device = "cpu (onnxruntime)"
        self.description = f"ONNX model {source}" + (f" ({metadata.description})" if metadata.description else "")

    @classmethod
    def from_file(cls, path: str | os.PathLike, *, threads: int = 0, model_bytes: bytes | None = None) -> "OnnxDetector":
        """Open an exported file (or its bytes, before it is written). Raises CheckpointError naming
        the file when it is missing, not ONNX, or lacks the export's metadata."""
        ort = _import_onnxruntime()
        where = os.fspath(path)
        if model_bytes is None and not Path(path).is_file():
            raise CheckpointError(f"{where}: no such ONNX file")
        try:
            session = ort.InferenceSession(model_bytes if model_bytes is not None else where,
                                           session_options(threads), providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/... classes
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(f"{where}: not a loadable ONNX model ({first})") from None
        props = session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in props:
            raise CheckpointError(f"{where}: not exported by detr-workbench (no {METADATA_KEY} metadata)")
        names = [i.name for i in session.get_inputs()]
        if names != ["images", "mask"]:
            raise CheckpointError(f"{where}: expected inputs images, mask; the file has {', '.join(names)}")
        return cls(session, OnnxMetadata.from_json(props[METADATA_KEY], where), where)

    def __call__(self, images: ImageInput | Sequence[ImageInput], **kwargs) -> Detections | list[Detections]:
        return self.detect(images, **kwargs)

    def detect(self, images: ImageInput | Sequence[ImageInput], *, attention: bool = False) -> Detections | list[Detections]:
        """One image (PIL image or path) -> Detections; a list -> a list. No attention maps (the
        exported graph computes none). Raises ImageError (naming the file) for an unreadable image."""
        if attention:
            raise ValueError("an ONNX model returns no attention maps; run the checkpoint for them")
        single = isinstance(images, (Image.Image, str, os.PathLike))
        batch = [images] if single else list(images)
        loaded = [(prepare_image(x), None) if isinstance(x, Image.Image) else (load_image(x), str(Path(x)))
                  for x in batch]
        results = self.run([image for image, _ in loaded])
        for result, (_, source) in zip(results, loaded):
            result.source = source
        return results[0] if single else results

    def run(self, images: list[Image.Image]) -> list[Detections]:
        """RGB PIL images -> Detections each; images of equal input size share one session run."""
        inputs = [self.preprocess(image) for image in images]  # [3, h_i, w_i] each
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, x in enumerate(inputs):
            by_size.setdefault(x.shape[1:], []).append(i)
        results: list[Detections | None] = [None] * len(images)
        for indices in by_size.values():
            stack = np.stack([inputs[i] for i in indices])  # [b, 3, h, w]
            mask = np.zeros((len(indices), *stack.shape[2:]), dtype=bool)  # [b, h, w] nothing padded
            logits, boxes = self.session.run(["pred_logits", "pred_boxes"], {"images": stack, "mask": mask})
            for j, i in enumerate(indices):
                results[i] = postprocess(logits[j], boxes[j], images[i].size, tuple(inputs[i].shape[1:]),
                                         self.class_names)
        return results

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """RGB PIL image -> [3, h, w] float32, resized and normalised as the reference."""
        height, width = resize_size(image.width, image.height, self.min_size, self.max_size)
        if (height, width) != (image.height, image.width):
            image = image.resize((width, height), Image.BILINEAR)
        array = np.asarray(image, dtype=np.float32) / 255.0  # [h, w, 3]
        mean = np.asarray(self.metadata.mean, dtype=np.float32)
        std = np.asarray(self.metadata.std, dtype=np.float32)
        return np.ascontiguousarray(((array - mean) / std).transpose(2, 0, 1))  # [3, h, w]


def postprocess(logits: np.ndarray, boxes_cxcywh: np.ndarray, image_size: tuple[int, int],
                input_size: tuple[int, int], class_names: list[str]) -> Detections:
    """logits [Q, K+1], boxes [Q, 4] cxcywh in [0, 1] -> Detections, boxes xyxy in original pixels."""
    logits = logits.astype(np.float32)
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    prob = (shifted / shifted.sum(-1, keepdims=True))[:, :-1]  # [Q, K] drop "no object"
    labels = prob.argmax(-1).astype(np.int64)
    scores = np.take_along_axis(prob, labels[:, None], -1)[:, 0].astype(np.float32)
    width, height = image_size
    cx, cy, w, h = boxes_cxcywh.astype(np.float32).T
    boxes_xyxy = np.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], -1)  # [Q, 4]
    boxes_xyxy = boxes_xyxy * np.array([width, height, width, height], dtype=np.float32)
    return Detections(image_size=image_size, input_size=input_size, class_names=class_names,
                      labels=labels, scores=scores, boxes_xyxy=boxes_xyxy, logits=logits,
                      boxes_cxcywh=boxes_cxcywh.astype(np.float32))
