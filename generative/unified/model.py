"""The unified transformer: one embedding table and one softmax over text words, markers and
image codes; two attention patterns, one set of weights.

    Chameleon mode (span=None)   causal everywhere: every token, image or text, is predicted from
                                 the tokens before it, image tokens in raster order.
    Show-o mode (span given)     causal outside the image span, full attention inside it: every
                                 image token sees the whole span (masked tokens included), so
                                 the span is written by masked parallel decoding, as in MaskGIT.

Why not discrete/models/transformer.py: its attention takes only `is_causal`, and its input is a
fixed [condition | data] layout with a data-only softmax; the Show-o pattern needs a per-row
boolean mask and documents whose image span starts at a different position in every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from generative.layers.feed_forward import feed_forward


@dataclass
class UnifiedConfig:
    vocab_size: int  # Vocab.size: specials + words + image codes
    max_len: int  # longest document
    hidden: int = 128
    depth: int = 4
    heads: int = 4


# region: attention-masks
def causal_mask(L: int) -> torch.Tensor:
    """bool (L, L): query i may attend key j iff j <= i."""
    return torch.ones(L, L, dtype=torch.bool).tril()


def showo_mask(span: torch.Tensor) -> torch.Tensor:
    """bool (B, L, L) from span (B, L), True on the image tokens: causal, except that a query
    inside the image span attends every key of the span, later ones included."""
    L = span.shape[1]
    inside = span[:, :, None] & span[:, None, :]  # (B, L, L) both in the span
    return causal_mask(L)[None] | inside


# endregion


class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv, self.proj = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)

    def forward(self, x, mask):
        B, L, D = x.shape
        q, k, v = self.qkv(x).reshape(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, h, L, d)
        return self.proj(out.transpose(1, 2).reshape(B, L, D))  # (B, L, D)


class Block(nn.Module):
    """Pre-norm block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.attn = Attention(hidden, heads)
        self.mlp = feed_forward(hidden)

    def forward(self, x, mask):
        x = x + self.attn(self.ln1(x), mask)
        return x + self.mlp(self.ln2(x))


class UnifiedTransformer(nn.Module):
    """tokens (B, L) [+ span (B, L)] -> logits (B, L, vocab_size)."""

    def __init__(self, cfg: UnifiedConfig):
        super().__init__()
        if cfg.hidden % cfg.heads:
            raise ValueError(f"hidden {cfg.hidden} is not divisible by heads {cfg.heads}")
        self.cfg = cfg
        self.tok_embed = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.max_len, cfg.hidden))
        self.blocks = nn.ModuleList(Block(cfg.hidden, cfg.heads) for _ in range(cfg.depth))
        self.ln_f = nn.LayerNorm(cfg.hidden)
        self.head = nn.Linear(cfg.hidden, cfg.vocab_size)
        self.apply(self._init)
        nn.init.normal_(self.pos_embed, std=0.02)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, tokens, span: torch.Tensor | None = None):
        """span None: Chameleon (causal); span (B, L) bool: Show-o (full inside the span)."""
        B, L = tokens.shape
        if L > self.cfg.max_len:
            raise ValueError(f"sequence of {L} tokens exceeds max_len {self.cfg.max_len}")
        h = self.tok_embed(tokens) + self.pos_embed[:, :L]  # (B, L, D)
        mask = causal_mask(L)[None, None] if span is None else showo_mask(span)[:, None]
        for block in self.blocks:
            h = block(h, mask)
        return self.head(self.ln_f(h))  # (B, L, V)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
