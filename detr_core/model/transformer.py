"""The reference DETR transformer: post-norm encoder and decoder, positions added to queries and
keys (never values) in every layer, decoder target starting at zeros.

Computation is batch-first ([B, N, C]); parameter names equal the reference's.

Group DETR (training only, train/groups.py): the decoder may carry G groups of Q queries each,
[B, G*Q, C]. Self-attention runs within each group, the groups folded into the batch
([B*G, Q, C]: no mask, no mixing); cross-attention, feed-forward and the norms see all G*Q queries
at once. With G = 1 the fold is the identity and the computation is the reference's.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import MultiheadAttention
from .config import ModelConfig


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src: Tensor, key_padding_mask: Tensor | None, pos: Tensor) -> Tensor:
        """src, pos [B, S, C]; key_padding_mask [B, S] or None -> [B, S, C]."""
        q = k = src + pos
        src = self.norm1(src + self.dropout1(self.self_attn(q, k, src, key_padding_mask)))
        src2 = self.linear2(self.dropout(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout2(src2))


class TransformerDecoderLayer(nn.Module):
    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, tgt: Tensor, memory: Tensor, memory_key_padding_mask: Tensor | None,
                pos: Tensor, query_pos: Tensor, groups: int = 1) -> Tensor:
        """tgt, query_pos [B, G*Q, C] (G = groups); memory, pos [B, S, C]; mask [B, S] or None
        -> [B, G*Q, C]. Self-attention within each group of Q consecutive queries."""
        B, GQ, C = tgt.shape
        q = k = tgt + query_pos
        grouped = (B * groups, GQ // groups, C)  # [B*G, Q, C]: group g of image b at b*G + g
        attended = self.self_attn(q.reshape(grouped), k.reshape(grouped), tgt.reshape(grouped))
        tgt = self.norm1(tgt + self.dropout1(attended.reshape(B, GQ, C)))
        tgt2 = self.multihead_attn(tgt + query_pos, memory + pos, memory, memory_key_padding_mask)
        tgt = self.norm2(tgt + self.dropout2(tgt2))
        tgt2 = self.linear2(self.dropout(F.relu(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout3(tgt2))


class TransformerEncoder(nn.Module):
    def __init__(self, layer: TransformerEncoderLayer, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))

    def forward(self, src: Tensor, key_padding_mask: Tensor | None, pos: Tensor) -> Tensor:
        for layer in self.layers:
            src = layer(src, key_padding_mask, pos)
        return src  # post-norm: no final norm


class TransformerDecoder(nn.Module):
    # With True, the decoder runs in fp32 under autocast (inference in reduced precision: it is ~2 %
    # of the arithmetic, and where the scores are made).
    full_precision = False

    def __init__(self, layer: TransformerDecoderLayer, num_layers: int, d_model: int):
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, tgt: Tensor, memory: Tensor, memory_key_padding_mask: Tensor | None,
                pos: Tensor, query_pos: Tensor, return_intermediate: bool, groups: int = 1) -> Tensor:
        """-> [L, B, Q, C], every layer's output through the shared final norm
        (L = num_layers with return_intermediate, else 1: the last layer only); Q holds
        `groups` groups of queries (see the module docstring)."""
        device = memory.device.type
        if self.full_precision and torch.is_autocast_enabled(device):
            with torch.autocast(device, enabled=False):
                return self.forward(tgt.float(), memory.float(), memory_key_padding_mask, pos.float(),
                                    query_pos.float(), return_intermediate, groups)
        intermediate = []
        for layer in self.layers:
            tgt = layer(tgt, memory, memory_key_padding_mask, pos, query_pos, groups)
            if return_intermediate:
                intermediate.append(self.norm(tgt))
        if not return_intermediate:
            intermediate.append(self.norm(tgt))
        return torch.stack(intermediate)


class Transformer(nn.Module):
    def __init__(self, d_model: int = 256, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1):
        super().__init__()
        self.encoder = TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout), num_encoder_layers)
        self.decoder = TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout), num_decoder_layers, d_model)
        self.d_model = d_model
        self.nhead = nhead
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, src: Tensor, mask: Tensor | None, query_embed: Tensor, pos_embed: Tensor,
                return_intermediate: bool = True, groups: int = 1) -> tuple[Tensor, Tensor]:
        """src [B, C, h, w] projected features; mask [B, h, w] (True = padding) or None for no
        padding; query_embed [G*Q, C] (G = groups, training only); pos_embed [B, C, h, w]
        -> hs [L, B, G*Q, C] decoder outputs, memory [B, C, h, w] encoder output."""
        assert query_embed.shape[0] % groups == 0, f"{query_embed.shape[0]} queries in {groups} groups"
        B, C, h, w = src.shape
        src = src.flatten(2).transpose(1, 2)  # [B, h*w, C]
        pos = pos_embed.flatten(2).transpose(1, 2)  # [B, h*w, C]
        key_padding_mask = None if mask is None else mask.flatten(1)  # [B, h*w]
        if key_padding_mask is not None and not key_padding_mask.any():
            key_padding_mask = None  # nothing padded: let attention take its fastest path
        query_pos = query_embed.unsqueeze(0).expand(B, -1, -1)  # [B, Q, C]
        tgt = torch.zeros_like(query_pos)
        memory = self.encoder(src, key_padding_mask, pos)
        hs = self.decoder(tgt, memory, key_padding_mask, pos, query_pos, return_intermediate, groups)
        return hs, memory.transpose(1, 2).reshape(B, C, h, w)


def build(cfg: ModelConfig) -> Transformer:
    return Transformer(cfg.hidden_dim, cfg.nheads, cfg.enc_layers, cfg.dec_layers,
                       cfg.dim_feedforward, cfg.dropout)


def set_dropout(module: nn.Module, p: float) -> None:
    """Every dropout inside `module` at probability `p`: the feed-forward and residual nn.Dropout
    layers and the attention weights' (what ModelConfig.dropout sets when a model is built)."""
    for m in module.modules():
        if isinstance(m, nn.Dropout):
            m.p = p
        elif isinstance(m, MultiheadAttention):
            m.dropout = p
