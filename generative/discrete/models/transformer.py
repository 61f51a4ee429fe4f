"""One small transformer over token sequences, used both ways: bidirectional (MaskGIT, MDLM,
D3PM: every position sees every other) and causal (the autoregressive baseline, with a KV cache).

The input is [condition prefix | time token | data tokens]. The prefix is a class label (one
token) or a caption (several word tokens), drawn from its own small vocabulary whose last id is
the null condition. The data vocabulary gets two extra ids: MASK (= vocab_size) for the masked
models and BOS (= vocab_size + 1), which starts the autoregressive sequence. The output is a
distribution over the vocab_size real tokens at every data position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from generative.layers.embeddings import TimestepEmbedder
from generative.layers.feed_forward import feed_forward


@dataclass
class TransformerConfig:
    """Sizes and conditioning of a TokenTransformer (saved with every discrete run)."""

    vocab_size: int  # real data tokens; MASK and BOS come on top
    seq_len: int  # data tokens per sequence
    cond_vocab: int = 0  # prefix vocabulary incl. the null id (classes + 1); 0: unconditional
    cond_len: int = 0  # prefix tokens (1 for a class label, more for a caption)
    hidden: int = 96
    depth: int = 3
    heads: int = 4
    causal: bool = False  # True: the autoregressive baseline
    time_cond: bool = False  # True: add an embedding of t as one more prefix token (D3PM)

    @property
    def mask_id(self) -> int:
        return self.vocab_size

    @property
    def bos_id(self) -> int:
        return self.vocab_size + 1

    @property
    def null_cond(self) -> int:
        return self.cond_vocab - 1

    @property
    def prefix_len(self) -> int:
        return self.cond_len + int(self.time_cond)


class KVCache:
    """Keys and values of every position seen so far, one (k, v) pair per block."""

    def __init__(self, depth: int):
        self.layers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * depth

    @property
    def length(self) -> int:
        return 0 if self.layers[0] is None else self.layers[0][0].shape[2]


# region: attention
class SelfAttention(nn.Module):
    """Multi-head self-attention; causal models may pass a cache and feed one token at a time."""

    def __init__(self, hidden: int, heads: int, causal: bool):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.qkv, self.proj = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)

    def forward(self, x, cache: KVCache | None = None, layer: int = 0):
        B, L, D = x.shape
        q, k, v = self.qkv(x).reshape(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        past = cache.layers[layer] if cache is not None else None
        if past is not None:  # the new token attends to every earlier key: no mask needed
            assert L == 1, "after the prefill, feed the cached model one token at a time"
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # (B, h, S, d)
        if cache is not None:
            cache.layers[layer] = (k, v)
        causal = self.causal and past is None
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # (B, h, L, d)
        return self.proj(out.transpose(1, 2).reshape(B, L, D))  # (B, L, D)


# endregion


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, hidden: int, heads: int, causal: bool):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.attn = SelfAttention(hidden, heads, causal)
        self.mlp = feed_forward(hidden)

    def forward(self, x, cache=None, layer=0):
        x = x + self.attn(self.ln1(x), cache, layer)
        return x + self.mlp(self.ln2(x))


class TokenTransformer(nn.Module):
    """tokens (B, L) [+ cond (B, P)] [+ t (B,)] -> logits (B, L, vocab_size)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        if cfg.hidden % cfg.heads:
            raise ValueError(f"hidden {cfg.hidden} is not divisible by heads {cfg.heads}")
        self.cfg = cfg
        self.tok_embed = nn.Embedding(cfg.vocab_size + 2, cfg.hidden)  # + MASK, BOS
        self.cond_embed = nn.Embedding(cfg.cond_vocab, cfg.hidden) if cfg.cond_vocab else None
        self.t_embedder = TimestepEmbedder(cfg.hidden) if cfg.time_cond else None
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.prefix_len + cfg.seq_len, cfg.hidden))
        self.blocks = nn.ModuleList(
            Block(cfg.hidden, cfg.heads, cfg.causal) for _ in range(cfg.depth)
        )
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

    def prefix(self, batch: int, cond=None, t=None) -> torch.Tensor:
        """Embeddings of the condition (null if none given) and the time: (B, P, hidden)."""
        parts = []
        if self.cond_embed is not None:
            if cond is None:
                cond = torch.full((batch, self.cfg.cond_len), self.cfg.null_cond, dtype=torch.long)
            parts.append(self.cond_embed(cond.reshape(batch, self.cfg.cond_len)))  # (B, P, D)
        if self.t_embedder is not None:
            if t is None:
                raise ValueError("this network is time-conditioned: pass t")
            parts.append(self.t_embedder(t)[:, None])  # (B, 1, D)
        if not parts:
            return self.tok_embed.weight.new_zeros(batch, 0, self.cfg.hidden)
        return torch.cat(parts, dim=1)  # (B, P, D)

    def forward(self, tokens, cond=None, t=None, cache: KVCache | None = None):
        B, L = tokens.shape
        P = self.cfg.prefix_len
        if cache is not None and cache.length:  # decoding one token: no prefix, shifted position
            start = cache.length
            h = self.tok_embed(tokens) + self.pos_embed[:, start : start + L]  # (B, 1, D)
        else:
            h = torch.cat([self.prefix(B, cond, t), self.tok_embed(tokens)], dim=1)  # (B, P+L, D)
            h = h + self.pos_embed[:, : P + L]
        for i, block in enumerate(self.blocks):
            h = block(h, cache, i)
        return self.head(self.ln_f(h[:, -L:]))  # (B, L, vocab_size): data positions only

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
