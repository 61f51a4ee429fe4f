"""Text encoders behind one interface: Captions -> Features (a sequence, its mask, and the pool).

    bow          bag of words: word vectors, no positions. Swap pairs get identical features.
    transformer  a small bidirectional transformer over the words (positions included); frozen
                 after text-only pre-training (the T5 analogue), frozen at random weights, or
                 trained end to end with the generator: the same class, three ways of using it.
    contrastive  the transformer trained against images with InfoNCE, used pooled (the CLIP
                 analogue: a pooled vector that only has to tell captions apart in a batch).
    unified      the last hidden states of a small unified transformer (generative/unified,
                 Chameleon mode) pre-trained on both directions of image-caption documents,
                 read at the caption's words of `BOS caption`, then frozen (unified_encoder.py).
    oracle       each attribute of the caption as its own token (left shape, left colour,
                 right shape, right colour, relation): the ceiling any text encoder can reach
                 with a given generator and budget, since it hands over the parse for free.

The generator sees `seq` through cross-attention, or `pooled` (the mean over real words)
through adaLN; see generator.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from generative.discrete.models.transformer import Block
from generative.hybrid.captions import PAD, SLOTS, WORDS, Captions


@dataclass
class Features:
    """seq (B, L, D) and mask (B, L), True on real positions; pooled (B, D) their mean."""

    seq: torch.Tensor
    mask: torch.Tensor

    @property
    def pooled(self) -> torch.Tensor:
        m = self.mask[..., None].to(self.seq.dtype)
        return (self.seq * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, D)


class BagOfWords(nn.Module):
    """One vector per word, no position: a set, so word order cannot reach the generator."""

    def __init__(self, dim: int):
        super().__init__()
        self.embed = nn.Embedding(len(WORDS), dim)
        nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, caps: Captions) -> Features:
        return Features(self.embed(caps.words), caps.words != PAD)  # (B, L, D)


class TextTransformer(nn.Module):
    """Words + positions through bidirectional pre-norm blocks (PAD is read like a word)."""

    def __init__(self, dim: int, depth: int = 2, heads: int = 4):
        super().__init__()
        self.embed = nn.Embedding(len(WORDS), dim)
        self.pos = nn.Parameter(torch.randn(1, 32, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, causal=False) for _ in range(depth))
        self.ln = nn.LayerNorm(dim)
        nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, caps: Captions) -> Features:
        words = caps.words
        h = self.embed(words) + self.pos[:, : words.shape[1]]  # (B, L, D)
        for block in self.blocks:
            h = block(h)
        return Features(self.ln(h), words != PAD)


class OracleEncoder(nn.Module):
    """The caption's five attribute slots, each embedded by its own table: the parse, given."""

    def __init__(self, dim: int):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(n, dim) for n in SLOTS)
        self.slot = nn.Parameter(torch.randn(1, len(SLOTS), dim) * 0.02)

    def forward(self, caps: Captions) -> Features:
        a = caps.attrs
        seq = torch.stack([t(a[:, i]) for i, t in enumerate(self.tables)], 1) + self.slot
        return Features(seq, torch.ones(a.shape, dtype=torch.bool))  # (B, 5, D)


ENCODERS = {
    "bow": "bag of words, trained with the generator",
    "pretrained": "transformer pre-trained on caption questions, then frozen (T5 analogue)",
    "random": "the same transformer at random weights, frozen",
    "e2e": "the same transformer trained end to end with the generator",
    "contrastive": "transformer trained with InfoNCE against images, frozen (CLIP analogue)",
    "unified": "hidden states of a unified model pre-trained both directions, frozen",
    "oracle": "each attribute as its own token (the ceiling)",
}
FROZEN = ("pretrained", "random", "contrastive", "unified")


def make_encoder(name: str, dim: int, depth: int = 2, heads: int = 4) -> nn.Module:
    """A fresh encoder of this kind (pre-training and freezing happen in train.py)."""
    if name == "bow":
        return BagOfWords(dim)
    if name == "oracle":
        return OracleEncoder(dim)
    if name == "unified":  # imported here: unified_encoder imports Features from this module
        from generative.hybrid.unified_encoder import UnifiedEncoder

        return UnifiedEncoder(dim, depth, heads)
    return TextTransformer(dim, depth, heads)
