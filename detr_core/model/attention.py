"""Multi-head attention with the reference parameter names, fused by default, weights on request.

The parameters are named as `torch.nn.MultiheadAttention` (`in_proj_weight` [3E, E] with q, k, v
rows stacked, `in_proj_bias`, `out_proj`), so official checkpoints load strictly. Plain inference
uses `scaled_dot_product_attention` and never materialises the weights; `capture_attention` turns
on the explicit path for just the layers asked for and collects their weights on the CPU.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MultiheadAttention(nn.Module):
    """Batch-first attention: query [B, L, E], key/value [B, S, E] -> [B, L, E]."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        assert embed_dim % num_heads == 0, f"embed_dim {embed_dim} not divisible by {num_heads} heads"
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        # Set by capture_attention: None (fused, no weights), "mean" or "heads".
        self.capture: str | None = None
        self.captured: Tensor | None = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def _project(self, x: Tensor, which: int) -> Tensor:
        """[B, N, E] -> [B, heads, N, head_dim] with the q (0), k (1) or v (2) projection."""
        E = self.embed_dim
        y = F.linear(x, self.in_proj_weight[which * E:(which + 1) * E], self.in_proj_bias[which * E:(which + 1) * E])
        B, N, _ = y.shape
        return y.view(B, N, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None) -> Tensor:
        """query [B, L, E], key [B, S, E], value [B, S, E], key_padding_mask [B, S] (True = ignore)
        -> [B, L, E]. With `capture` set, the weights are kept in `captured`:
        [B, L, S] ("mean" over heads) or [B, heads, L, S] ("heads")."""
        B, L, E = query.shape
        q = self._project(query, 0)  # [B, h, L, d]
        k = self._project(key, 1)  # [B, h, S, d]
        v = self._project(value, 2)  # [B, h, S, d]
        dropout_p = self.dropout if self.training else 0.0
        if self.capture is None:
            # SDPA's boolean mask is True where attention is allowed.
            attn_mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        else:
            scores = (q * (1.0 / math.sqrt(self.head_dim))) @ k.transpose(-2, -1)  # [B, h, L, S]
            if key_padding_mask is not None:
                scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
            weights = scores.softmax(dim=-1)
            self.captured = weights.mean(dim=1) if self.capture == "mean" else weights
            out = F.dropout(weights, p=dropout_p, training=self.training) @ v  # [B, h, L, d]
        out = out.transpose(1, 2).reshape(B, L, E)
        return self.out_proj(out)


@dataclass
class CapturedAttention:
    """Weights collected during one forward pass, on the CPU, float32.

    decoder_cross: layer index -> [B, Q, S] (head mean) or [B, heads, Q, S]
    encoder_self:  layer index -> [B, S, S] (head mean) or [B, heads, S, S]
    where S = h * w is the flattened feature map (row-major: index = y * w + x).
    """

    decoder_cross: dict[int, Tensor] = field(default_factory=dict)
    encoder_self: dict[int, Tensor] = field(default_factory=dict)


def _layer_indices(spec: str | list[int] | None, num_layers: int) -> list[int]:
    if spec is None:
        return []
    if spec == "last":
        return [num_layers - 1]
    if spec == "all":
        return list(range(num_layers))
    indices = [i % num_layers for i in spec]
    return sorted(set(indices))


@contextlib.contextmanager
def capture_attention(transformer: nn.Module, *, decoder: str | list[int] | None = "last",
                      encoder: str | list[int] | None = None,
                      per_head: bool = False) -> Iterator[CapturedAttention]:
    """Within the block, the chosen layers compute explicit attention weights; after each forward
    pass they are in the yielded CapturedAttention. Layers not chosen stay fused.

    decoder / encoder: "last", "all", a list of layer indices, or None for none.
    """
    result = CapturedAttention()
    mode = "heads" if per_head else "mean"
    dec_layers = transformer.decoder.layers
    enc_layers = transformer.encoder.layers
    chosen = [(result.decoder_cross, i, dec_layers[i].multihead_attn)
              for i in _layer_indices(decoder, len(dec_layers))]
    chosen += [(result.encoder_self, i, enc_layers[i].self_attn)
               for i in _layer_indices(encoder, len(enc_layers))]
    hooks = []
    for target, index, module in chosen:
        module.capture = mode

        def collect(mod: MultiheadAttention, _inputs, _output, target=target, index=index) -> None:
            target[index] = mod.captured.detach().float().cpu()
            mod.captured = None

        hooks.append(module.register_forward_hook(collect))
    try:
        yield result
    finally:
        for hook in hooks:
            hook.remove()
        for _, _, module in chosen:
            module.capture = None
            module.captured = None
