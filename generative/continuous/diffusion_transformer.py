"""DiT (Peebles & Xie 2023): a transformer denoiser with adaLN-Zero conditioning.

Inputs are cut into patches, each patch is one token (PatchEmbed is a single linear map), the
tokens attend to each other bidirectionally, and every block is modulated by c = embed(t) +
embed(y). The same network takes images (B, C, H, W) and points (B, D): a D-vector is cut into
D / patch tokens of `patch` numbers each.

`conditioning` picks how c enters (the paper's ablation, lesson 08):
    adaln_zero  shift/scale/gate from c, gates and output layer start at 0 (the default)
    adaln       the same layers, Xavier-initialized like the rest: only the zero init differs
    in_context  t and y embeddings appended as two extra tokens; plain pre-LN blocks
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from generative.errors import UserError
from generative.layers.embeddings import LabelEmbedder, TimestepEmbedder, condition

# size presets: name -> (hidden, depth, heads)
DIT_SIZES = {"DiT-T": (64, 3, 4), "DiT-XS": (128, 4, 4), "DiT-S": (384, 12, 6)}
CONDITIONINGS = ("adaln_zero", "adaln", "in_context")


# region: patch-embed
class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens, one matrix multiply (a conv with stride = kernel)."""

    def __init__(self, shape, patch: int, hidden: int):
        super().__init__()
        self.shape, self.patch = tuple(shape), patch
        if len(self.shape) == 1:  # points: (D,)
            (D,) = self.shape
            if D % patch:
                raise UserError(f"--patch {patch} does not divide the data's {D} dimensions")
            self.num_tokens, patch_dim = D // patch, patch
        else:  # images: (C, H, W)
            C, H, W = self.shape
            if H % patch or W % patch:
                raise UserError(f"--patch {patch} does not divide the {H}x{W} images")
            self.num_tokens, patch_dim = (H // patch) * (W // patch), C * patch * patch
        self.proj = nn.Linear(patch_dim, hidden)

    def patchify(self, x):
        p = self.patch
        if x.dim() == 2:
            return x.reshape(x.shape[0], -1, p)  # (B, D/p, p)
        B, C, H, W = x.shape
        x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)  # (B, h, w, C, p, p)
        return x.reshape(B, (H // p) * (W // p), C * p * p)  # (B, N, C p p)

    def forward(self, x):
        return self.proj(self.patchify(x))  # (B, N, hidden)


# endregion


# region: adaln-zero
def modulate(x, shift, scale):
    """Adaptive layer norm's affine part, per sample: x * (1 + scale) + shift."""
    return x * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    """Attention and MLP, each wrapped in adaLN with a gate; gates start at 0 (identity block).
    With modulated=False: a plain pre-LN transformer block (for in-context conditioning)."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float = 4.0, modulated: bool = True):
        super().__init__()
        self.heads, self.modulated = heads, modulated
        affine = not modulated  # without adaLN the norms keep their own learned affine
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=affine, eps=1e-6)
        self.qkv, self.proj = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=affine, eps=1e-6)
        mlp_hidden = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(hidden, mlp_hidden),
            nn.GELU(approximate="tanh"),
            nn.Linear(mlp_hidden, hidden),
        )
        if modulated:  # c -> (shift, scale, gate) for attention and for the MLP: six vectors
            self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))

    def attn(self, x):
        B, N, D = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, D/heads), no mask
        return self.proj(out.transpose(1, 2).reshape(B, N, D))  # (B, N, D)

    def forward(self, x, c):
        if not self.modulated:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))
        s1, sc1, g1, s2, sc2, g2 = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + g1[:, None] * self.attn(modulate(self.norm1(x), s1, sc1))
        return x + g2[:, None] * self.mlp(modulate(self.norm2(x), s2, sc2))


class FinalLayer(nn.Module):
    """adaLN (or a plain LayerNorm) then a linear map from each token back to its patch."""

    def __init__(self, hidden: int, patch_dim: int, modulated: bool = True):
        super().__init__()
        self.modulated = modulated
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=not modulated, eps=1e-6)
        self.linear = nn.Linear(hidden, patch_dim)
        if modulated:
            self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))

    def forward(self, x, c):
        if not self.modulated:
            return self.linear(self.norm_final(x))  # (B, N, patch_dim)
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))  # (B, N, patch_dim)


# endregion


class DiT(nn.Module):
    """Patchify -> + position -> N adaLN-Zero blocks -> final layer -> unpatchify."""

    def __init__(
        self,
        shape,
        patch=1,
        size="DiT-XS",
        num_classes=0,
        t_scale=1000.0,
        conditioning="adaln_zero",
    ):
        super().__init__()
        assert conditioning in CONDITIONINGS, f"conditioning {conditioning} not in {CONDITIONINGS}"
        hidden, depth, heads = DIT_SIZES[size]
        self.conditioning = conditioning
        modulated = conditioning != "in_context"
        self.shape = tuple(shape)
        self.x_embedder = PatchEmbed(self.shape, patch, hidden)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.x_embedder.num_tokens, hidden))
        self.t_embedder = TimestepEmbedder(hidden, t_scale=t_scale)
        self.y_embedder = LabelEmbedder(num_classes, hidden) if num_classes else None
        self.blocks = nn.ModuleList(
            DiTBlock(hidden, heads, modulated=modulated) for _ in range(depth)
        )
        patch_dim = self.x_embedder.proj.in_features
        self.final_layer = FinalLayer(hidden, patch_dim, modulated)
        self.initialize_weights()

    # region: zero-init
    def initialize_weights(self):
        """Xavier everywhere, then zero the modulation and output layers: at init every block
        is the identity and the whole network outputs exactly 0. Only adaLN-Zero zeroes the
        modulation; in-context keeps the zero output layer (its blocks have no gates)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.pos_embed, std=0.02)
        for mlp in (self.t_embedder.mlp[0], self.t_embedder.mlp[2]):
            nn.init.normal_(mlp.weight, std=0.02)
        if self.y_embedder is not None:
            nn.init.normal_(self.y_embedder.table.weight, std=0.02)
        if self.conditioning == "adaln":
            return  # the ablation: modulation and output layer keep their Xavier init
        if self.conditioning == "adaln_zero":
            for layer in [b.adaLN_modulation[-1] for b in self.blocks] + [
                self.final_layer.adaLN_modulation[-1]
            ]:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)

    # endregion

    def unpatchify(self, tokens):
        """(B, N, patch_dim) -> (B, D) for points or (B, C, H, W) for images."""
        B, p = tokens.shape[0], self.x_embedder.patch
        if len(self.shape) == 1:
            return tokens.reshape(B, *self.shape)  # (B, D)
        C, H, W = self.shape
        x = tokens.reshape(B, H // p, W // p, C, p, p).permute(
            0, 3, 1, 4, 2, 5
        )  # (B, C, h, p, w, p)
        return x.reshape(B, C, H, W)

    # region: dit-forward
    def forward(self, x, t, y=None):
        h = self.x_embedder(x) + self.pos_embed  # (B, N, hidden)
        if self.conditioning == "in_context":
            return self.unpatchify(self._in_context(h, t, y))
        c = condition(self.t_embedder, self.y_embedder, t, y)  # (B or 1, hidden)
        for block in self.blocks:
            h = block(h, c)
        return self.unpatchify(self.final_layer(h, c))

    # endregion

    def _in_context(self, h, t, y):
        """t and y (the null label when absent) as two extra tokens, dropped after the blocks."""
        cond = [self.t_embedder(t)]
        if self.y_embedder is not None:
            null = torch.full((t.shape[0],), self.y_embedder.num_classes, device=t.device)
            cond.append(self.y_embedder(null if y is None else y))
        h = torch.cat([h, torch.stack(cond, dim=1)], dim=1)  # (B, N + 1 or 2, hidden)
        for block in self.blocks:
            h = block(h, None)
        return self.final_layer(h[:, : self.x_embedder.num_tokens], None)  # (B, N, patch_dim)
