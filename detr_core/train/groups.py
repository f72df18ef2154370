"""Group DETR training (Chen et al., "Group DETR"): K groups of object queries, training only.

Each group is a full set of Q queries. In the decoder, self-attention runs within each group
(the groups folded into the batch, model/transformer.py); cross-attention and the class and box
heads are shared. Every group is matched to the targets on its own (Hungarian, one-to-one) and
the losses are averaged over the groups (`num_boxes` counts the targets K times). Group 0 is the
model's own `query_embed`; the other K-1 live here, outside the model, so a saved model keeps
exactly the official layout and inference (one group) is unchanged.

    grouped = GroupedDETR(model, groups=4, init="copy", seed=0)
    outputs = grouped(images, mask)               # [B*K, Q, ...]: group g of image b at b*K + g
    losses = criterion(outputs, repeat_targets(targets, 4))

With K = 1 the wrapper holds nothing and the step is the plain one.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..model.detr import DETR

GROUP_INITS = ("copy", "fresh")
COPY_NOISE = 0.02  # "copy": noise std as a share of the trained queries' std


def _initial(queries: Tensor, groups: int, init: str, seed: int) -> Tensor:
    """[K-1, Q, C] starting values of the extra groups from the model's queries [Q, C].
    "copy": each a copy of the trained queries plus a little noise (so the groups can part);
    "fresh": N(0, 1), as nn.Embedding initialises the reference's queries."""
    Q, C = queries.shape
    gen = torch.Generator().manual_seed(seed + 7_919)
    noise = torch.randn(groups - 1, Q, C, generator=gen)
    if init == "fresh":
        return noise.to(queries.dtype)
    scale = COPY_NOISE * float(queries.detach().float().std())
    return (queries.detach().float().cpu().unsqueeze(0) + scale * noise).to(queries.dtype)


class GroupedDETR(nn.Module):
    """A DETR trained with `groups` query groups. `detr` is the model itself (shared, not
    copied); `extra_queries` [K-1, Q, C] is the only parameter of its own."""

    def __init__(self, detr: DETR, groups: int = 1, init: str = "copy", seed: int = 0):
        super().__init__()
        if groups < 1:
            raise ValueError(f"groups must be at least 1, got {groups}")
        if init not in GROUP_INITS:
            raise ValueError(f"unknown group_init {init!r}; expected one of {', '.join(GROUP_INITS)}")
        self.detr = detr
        self.groups = groups
        queries = detr.query_embed.weight
        self.extra_queries = (nn.Parameter(_initial(queries, groups, init, seed).to(queries.device))
                              if groups > 1 else None)

    @property
    def aux_loss(self) -> bool:
        return self.detr.aux_loss

    def forward(self, images: Tensor, mask: Tensor | None = None) -> dict:
        """images [B, 3, H, W], mask [B, H, W] or None -> the DETR outputs of B*K rows."""
        return self.detr(images, mask, extra_queries=self.extra_queries)

    def extra_parameters(self) -> list[nn.Parameter]:
        return [] if self.extra_queries is None else [self.extra_queries]

    def state(self) -> Tensor | None:
        """What a resumable checkpoint keeps of the groups."""
        return None if self.extra_queries is None else self.extra_queries.detach().cpu().clone()

    def load_state(self, saved: Tensor | None) -> None:
        if self.extra_queries is None or saved is None:
            return
        if tuple(saved.shape) != tuple(self.extra_queries.shape):
            from ..errors import CheckpointError

            raise CheckpointError(f"the run's query groups are {tuple(saved.shape)}, not "
                                  f"{tuple(self.extra_queries.shape)}: resume with the same groups")
        with torch.no_grad():
            self.extra_queries.copy_(saved)


def repeat_targets(targets: list[dict], groups: int) -> list[dict]:
    """Each image's targets once per group, in the order of the grouped outputs (b*K + g)."""
    return [t for t in targets for _ in range(groups)]


def build(detr: DETR, groups: int, init: str = "copy", seed: int = 0) -> GroupedDETR:
    return GroupedDETR(detr, groups, init, seed)
