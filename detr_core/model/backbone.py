"""ResNet backbone with frozen batch norm, named exactly as the reference (`backbone.0.body.*`)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .config import ModelConfig
from .position_encoding import PositionEmbeddingSine


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine parameters, all buffers (never trained).

    Like the reference: no `num_batches_tracked` (dropped if a checkpoint has it), eps 1e-5.
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def scale_and_shift(self) -> tuple[Tensor, Tensor]:
        """The affine map y = x * scale + shift this layer applies, each [C]."""
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return scale, shift

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, H, W] -> [B, C, H, W]."""
        scale, shift = self.scale_and_shift()
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)


class Backbone(nn.Module):
    """torchvision ResNet up to layer4 (or layer3 with stages=3); `body` returns
    {"0": [B, C, H/32, W/32]} (H/16 with DC5 or stages=3)."""

    def __init__(self, name: str, dilation: bool, train_backbone: bool = True, stages: int = 4):
        super().__init__()
        # Imported here, not at the top: torchvision pulls in torch._dynamo (seconds), and the
        # window imports this module long before it builds a model (issue 17, item 9).
        import torchvision
        from torchvision.models._utils import IntermediateLayerGetter

        resnet = getattr(torchvision.models, name)(
            weights=None,
            replace_stride_with_dilation=[False, False, dilation],
            norm_layer=FrozenBatchNorm2d,
        )
        # As the reference: the stem and layer1 are never trained.
        for param_name, parameter in resnet.named_parameters():
            trainable = train_backbone and any(f"layer{i}" in param_name for i in (2, 3, 4))
            parameter.requires_grad_(trainable)
        self.body = IntermediateLayerGetter(resnet, return_layers={f"layer{stages}": "0"})
        channels = 512 if name in ("resnet18", "resnet34") else 2048
        self.num_channels = channels if stages == 4 else channels // 2

    def forward(self, images: Tensor) -> Tensor:
        """[B, 3, H, W] normalised images -> [B, C, h, w] features."""
        return self.body(images)["0"]


class Joiner(nn.Sequential):
    """(backbone, position encoding), an nn.Sequential only so the keys read `backbone.0.*`."""

    def __init__(self, backbone: Backbone, position_embedding: PositionEmbeddingSine):
        super().__init__(backbone, position_embedding)
        self.num_channels = backbone.num_channels

    def forward(self, images: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """images [B, 3, H, W], mask [B, H, W] (True = padding) or None
        -> features [B, C, h, w], feature mask [B, h, w], position encoding [B, D, h, w]."""
        features = self[0](images)
        B, _, h, w = features.shape
        if mask is None:
            feature_mask = torch.zeros(B, h, w, dtype=torch.bool, device=features.device)
        else:
            # Nearest-neighbour downsampling of the padding mask, as the reference.
            feature_mask = nn.functional.interpolate(mask[None].float(), size=(h, w)).to(torch.bool)[0]
        pos = self[1](feature_mask).to(features.dtype)
        return features, feature_mask, pos


def build(cfg: ModelConfig, train_backbone: bool = True) -> Joiner:
    backbone = Backbone(cfg.backbone, cfg.dilation, train_backbone, cfg.backbone_stages)
    position_embedding = PositionEmbeddingSine(cfg.hidden_dim // 2, normalize=True)
    return Joiner(backbone, position_embedding)
