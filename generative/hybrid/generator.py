"""The image generator of the two-tower pipeline: a masked-token transformer over the exact patch
tokens (the Muse pattern: MaskGIT conditioned on a separate, often frozen, text encoder).

Two conditioning interfaces, the two the field uses:

    xattn    per-token cross-attention: every block's image tokens query the caption's feature
             sequence (Imagen, SD, Muse). Word order and which word sits next to which survive.
    pooled   one vector, the mean of the features, through adaLN-Zero in every block (DiT's
             class path; SD3's pooled CLIP vector). Everything must pass a single bottleneck.

Classifier-free guidance needs an unconditional model: with probability p_drop a caption is
replaced by the null features, one learned vector (a length-1 sequence for cross-attention).
`guided_logits` mixes the two predictions: logits_u + w (logits_c - logits_u); w = 1 is the
conditional model itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from generative.continuous.diffusion_transformer import DiTBlock
from generative.discrete.models.transformer import Block
from generative.hybrid.encoders import Features
from generative.layers.feed_forward import feed_forward

CONDITIONING = ("xattn", "pooled")


@dataclass
class GeneratorConfig:
    vocab_size: int  # image codes; MASK = vocab_size
    seq_len: int  # image tokens
    text_dim: int  # the encoder's feature size
    conditioning: str = "xattn"
    hidden: int = 128
    depth: int = 4
    heads: int = 4

    @property
    def mask_id(self) -> int:
        return self.vocab_size


# region: cross-attention
class CrossAttention(nn.Module):
    """Image tokens (queries) attend the caption's features (keys, values); padding masked."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q, self.kv, self.proj = (nn.Linear(hidden, k * hidden) for k in (1, 2, 1))

    def forward(self, x, ctx, ctx_mask):
        B, N, D = x.shape
        h, d = self.heads, D // self.heads
        q = self.q(x).reshape(B, N, h, d).transpose(1, 2)  # (B, h, N, d)
        k, v = self.kv(ctx).reshape(B, -1, 2, h, d).permute(2, 0, 3, 1, 4)  # (B, h, L, d) each
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=ctx_mask[:, None, None, :])
        return self.proj(out.transpose(1, 2).reshape(B, N, D))  # (B, N, D)


class CrossBlock(nn.Module):
    """Self-attention over the image, cross-attention to the text, MLP; each pre-norm."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.self_block = Block(hidden, heads, causal=False)  # x + attn, x + mlp
        self.ln = nn.LayerNorm(hidden)
        self.cross = CrossAttention(hidden, heads)
        self.mlp, self.ln2 = feed_forward(hidden), nn.LayerNorm(hidden)

    def forward(self, x, ctx, ctx_mask):
        x = x + self.self_block.attn(self.self_block.ln1(x))
        x = x + self.cross(self.ln(x), ctx, ctx_mask)
        return x + self.self_block.mlp(self.self_block.ln2(x))


# endregion


# region: null-features
class TextConditioned:
    """Caption dropout and the unconditional model, shared by both generators (generator.py,
    latent_flow.py): `self.null`, one learned (1, text_dim) vector, stands for no caption."""

    null: nn.Parameter

    def null_features(self, batch: int) -> Features:
        seq = self.null.expand(batch, 1, -1)  # (B, 1, text_dim)
        return Features(seq, torch.ones(batch, 1, dtype=torch.bool, device=seq.device))

    def drop(self, feats: Features, drop: torch.Tensor) -> Features:
        """Rows where drop (B,) is True get the null features (caption dropout)."""
        if not drop.any():
            return feats
        B, L, Dt = feats.seq.shape
        null = self.null.expand(B, L, Dt)
        keep_first = torch.zeros(B, L, dtype=torch.bool, device=drop.device)
        keep_first[:, 0] = True
        seq = torch.where(drop[:, None, None], null, feats.seq)
        mask = torch.where(drop[:, None], keep_first, feats.mask)  # one null position
        return Features(seq, mask)

    def with_null(self, feats: Features) -> Features:
        """feats followed by as many null rows (one real position each, padded to L): the
        conditional and unconditional halves of one guided call."""
        B, L = feats.mask.shape
        null = self.null.expand(B, L, -1)
        one = torch.arange(L, device=feats.mask.device)[None].expand(B, L) == 0
        return Features(torch.cat([feats.seq, null]), torch.cat([feats.mask, one]))


# endregion


class MaskedGenerator(TextConditioned, nn.Module):
    """tokens (B, N) with MASK where unknown + Features of the caption -> logits (B, N, V)."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        if cfg.conditioning not in CONDITIONING:
            raise ValueError(f"conditioning must be one of {CONDITIONING}, got {cfg.conditioning}")
        self.cfg = cfg
        D = cfg.hidden
        self.tok_embed = nn.Embedding(cfg.vocab_size + 1, D)  # + MASK
        self.pos = nn.Parameter(torch.randn(1, cfg.seq_len, D) * 0.02)
        self.text_proj = nn.Linear(cfg.text_dim, D)
        self.null = nn.Parameter(torch.randn(1, cfg.text_dim) * 0.02)  # dropped caption
        if cfg.conditioning == "xattn":
            self.blocks = nn.ModuleList(CrossBlock(D, cfg.heads) for _ in range(cfg.depth))
        else:
            self.blocks = nn.ModuleList(DiTBlock(D, cfg.heads) for _ in range(cfg.depth))
            for b in self.blocks:  # adaLN-Zero: every block starts as the identity
                nn.init.zeros_(b.adaLN_modulation[-1].weight)
                nn.init.zeros_(b.adaLN_modulation[-1].bias)
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, cfg.vocab_size)

    def forward(self, tokens, feats: Features):
        h = self.tok_embed(tokens) + self.pos  # (B, N, D)
        if self.cfg.conditioning == "xattn":
            ctx = self.text_proj(feats.seq)  # (B, L, D)
            for block in self.blocks:
                h = block(h, ctx, feats.mask)
        else:
            c = self.text_proj(feats.pooled)  # (B, D)
            for block in self.blocks:
                h = block(h, c)
        return self.head(self.ln_f(h))  # (B, N, V)


# region: guidance
def guided_logits(net: MaskedGenerator, tokens, feats: Features, w: float):
    """Classifier-free guidance on logits: u + w (c - u); w = 1 returns the conditional logits
    and costs one call, any other w two (batched as one)."""
    if w == 1.0:
        return net(tokens, feats)
    both = net.with_null(feats)
    c, u = net(torch.cat([tokens, tokens]), both).chunk(2)  # (B, N, V) each
    return u + w * (c - u)


# endregion
