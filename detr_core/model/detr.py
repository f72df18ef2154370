"""The DETR detector: backbone, input projection, transformer, object queries, class and box heads."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import backbone as backbone_lib
from . import transformer as transformer_lib
from .config import ModelConfig


class MLP(nn.Module):
    """A plain multi-layer perceptron with ReLU between layers (the box head: 256-256-256-4)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        dims = [hidden_dim] * (num_layers - 1)
        self.num_layers = num_layers
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip([input_dim] + dims, dims + [output_dim]))

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < self.num_layers - 1 else layer(x)
        return x


class DETR(nn.Module):
    def __init__(self, backbone: backbone_lib.Joiner, transformer: transformer_lib.Transformer,
                 num_classes: int, num_queries: int, aux_loss: bool = True):
        super().__init__()
        hidden_dim = transformer.d_model
        self.num_queries = num_queries
        self.num_classes = num_classes
        self.transformer = transformer
        self.class_embed = nn.Linear(hidden_dim, num_classes + 1)  # last logit: "no object"
        self.bbox_embed = MLP(hidden_dim, hidden_dim, 4, 3)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.input_proj = nn.Conv2d(backbone.num_channels, hidden_dim, kernel_size=1)
        self.backbone = backbone
        self.aux_loss = aux_loss

    def forward(self, images: Tensor, mask: Tensor | None = None, aux: bool | None = None,
                extra_queries: Tensor | None = None) -> dict:
        """images [B, 3, H, W] normalised; mask [B, H, W] (True = padding) or None.

        Returns {"pred_logits": [B, Q, K+1], "pred_boxes": [B, Q, 4] cxcywh in [0, 1] of the
        unpadded image, "aux_outputs": the same for every decoder layer but the last (when `aux`,
        which defaults to training with aux_loss)}.

        `extra_queries` [G-1, Q, C] (Group DETR training, train/groups.py): G groups of queries,
        this model's own first; the outputs then hold B*G rows, group g of image b at b*G + g.
        """
        features, feature_mask, pos = self.backbone(images, mask)
        return self.forward_features(features, feature_mask, pos, aux, extra_queries)

    def forward_features(self, features: Tensor, feature_mask: Tensor | None, pos: Tensor,
                         aux: bool | None = None, extra_queries: Tensor | None = None) -> dict:
        """features [B, Cb, h, w] from the backbone, feature_mask [B, h, w] or None,
        pos [B, C, h, w] -> the outputs of `forward`, plus "memory" [B, C, h, w]."""
        if aux is None:
            aux = self.aux_loss and self.training
        src = self.input_proj(features)  # [B, C, h, w]
        queries = self.query_embed.weight  # [Q, C]
        groups = 1
        if extra_queries is not None:
            groups = 1 + extra_queries.shape[0]
            queries = torch.cat([queries, extra_queries.flatten(0, 1)])  # [G*Q, C]
        hs, memory = self.transformer(src, feature_mask, queries, pos, return_intermediate=aux,
                                      groups=groups)  # hs [L, B, G*Q, C]
        L, B, GQ, C = hs.shape
        hs = hs.reshape(L, B * groups, GQ // groups, C)  # [L, B*G, Q, C]: group g of image b at b*G + g
        outputs_class = self.class_embed(hs)  # [L, B, Q, K+1]
        outputs_coord = self.bbox_embed(hs).sigmoid()  # [L, B, Q, 4]
        out = {"pred_logits": outputs_class[-1], "pred_boxes": outputs_coord[-1], "memory": memory}
        if aux:
            out["aux_outputs"] = [{"pred_logits": c, "pred_boxes": b}
                                  for c, b in zip(outputs_class[:-1], outputs_coord[:-1])]
        return out


def build(cfg: ModelConfig, train_backbone: bool = True) -> DETR:
    """A randomly initialised DETR of the given configuration."""
    return DETR(backbone_lib.build(cfg, train_backbone), transformer_lib.build(cfg),
                num_classes=cfg.num_classes, num_queries=cfg.num_queries, aux_loss=cfg.aux_loss)


def parameter_count(model: nn.Module) -> tuple[int, int]:
    """(trainable parameters, all parameters), as the facts sheet counts them."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())
