"""Model configuration: one frozen dataclass builds every DETR size, from the official R101-DC5
down to a tiny model that trains on a CPU in minutes."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")


@dataclass(frozen=True)
class ModelConfig:
    backbone: str = "resnet50"  # torchvision ResNet: resnet18 | resnet34 | resnet50 | resnet101
    dilation: bool = False  # DC5: dilate the last stage instead of striding (feature stride 16)
    backbone_stages: int = 4  # ResNet stages used: 4 (reference), or 3 (stop after layer3: stride 16,
    #                           a quarter of the backbone's weights; small from-scratch CPU models)
    hidden_dim: int = 256  # transformer width
    nheads: int = 8  # attention heads
    enc_layers: int = 6
    dec_layers: int = 6
    dim_feedforward: int = 2048
    dropout: float = 0.1  # in attention and feed-forward, training only
    num_queries: int = 100  # object queries: at most this many detections per image
    num_classes: int = 91  # class ids 0..num_classes-1; the head adds one "no object" logit
    aux_loss: bool = True  # heads on every decoder layer while training
    min_size: int = 800  # evaluation resize: shortest side ...
    max_size: int = 1333  # ... with the longest side at most this

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; expected one of {', '.join(BACKBONES)}")
        if self.dilation and self.backbone in ("resnet18", "resnet34"):
            raise ValueError(f"dilation (DC5) needs a bottleneck ResNet (resnet50/101), not {self.backbone}")
        if self.backbone_stages not in (3, 4):
            raise ValueError(f"backbone_stages must be 3 or 4, got {self.backbone_stages}")
        if self.dilation and self.backbone_stages != 4:
            raise ValueError("dilation (DC5) dilates layer4, which backbone_stages=3 leaves out")
        if self.nheads < 1:
            raise ValueError(f"nheads must be at least 1, got {self.nheads}")
        if self.hidden_dim % self.nheads:
            raise ValueError(f"hidden_dim {self.hidden_dim} is not divisible by nheads {self.nheads}")
        if self.hidden_dim % 2:
            raise ValueError(f"hidden_dim must be even for the sine position encoding, got {self.hidden_dim}")
        for name in ("enc_layers", "dec_layers", "num_queries", "num_classes", "dim_feedforward"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.min_size <= self.max_size:
            raise ValueError(f"need 0 < min_size <= max_size, got {self.min_size}, {self.max_size}")

    @property
    def backbone_channels(self) -> int:
        channels = 512 if self.backbone in ("resnet18", "resnet34") else 2048
        return channels if self.backbone_stages == 4 else channels // 2

    @property
    def stride(self) -> int:
        """Pixels of the resized input per feature-map cell."""
        return 16 if self.dilation or self.backbone_stages == 3 else 32

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        fields = {f.name: type(f.default) for f in dataclasses.fields(cls)}
        unknown = sorted(map(str, set(data) - set(fields)))
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        for name, value in data.items():  # from a file: the types too (a bool is not an int)
            kind = fields[name]
            ok = type(value) is kind or (kind is float and type(value) is int)
            if not ok:
                raise ValueError(f"{name} must be {kind.__name__}, got {type(value).__name__} {value!r:.40}")
        return cls(**data)


PRESETS: dict[str, ModelConfig] = {
    "detr-r50": ModelConfig(),
    "detr-r101": ModelConfig(backbone="resnet101"),
    "detr-r50-dc5": ModelConfig(dilation=True),
    "detr-r101-dc5": ModelConfig(backbone="resnet101", dilation=True),
    # Small models for CPUs: the bundled demo and the tests.
    "small": ModelConfig(
        backbone="resnet18", hidden_dim=128, nheads=8, enc_layers=3, dec_layers=3,
        dim_feedforward=512, num_queries=30, min_size=384, max_size=640,
    ),
    # The bundled demo model (resources/models/demo.pth, `make demo-model`): 4.2M weights, trained
    # from scratch on synthetic shapes (no dropout: it learns faster and the data is plentiful).
    "demo": ModelConfig(
        backbone="resnet18", backbone_stages=3, hidden_dim=128, nheads=8, enc_layers=3, dec_layers=3,
        dim_feedforward=512, dropout=0.0, num_queries=20, min_size=256, max_size=416,
    ),
    "tiny": ModelConfig(
        backbone="resnet18", hidden_dim=64, nheads=4, enc_layers=2, dec_layers=2,
        dim_feedforward=128, num_queries=20, min_size=256, max_size=416,
    ),
}


def preset(name: str, **changes: Any) -> ModelConfig:
    """A named configuration, optionally changed: `preset("tiny", num_classes=3)`."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown config {name!r}; expected one of {', '.join(PRESETS)}") from None
    return base.replace(**changes) if changes else base
