"""The second generator of the two-tower pipeline: flow matching in the latent space of a small
autoencoder (the latent-diffusion / SD3 pattern), a DiT whose tokens are the latent positions.

It reads the caption through the same two interfaces as the masked generator (generator.py):

    xattn    time through adaLN-Zero, the caption through cross-attention in every block
             (PixArt-alpha's block: self-attention, cross-attention, MLP)
    pooled   c = embed(t) + proj(mean of the features), one vector through adaLN-Zero (DiT's
             class path; SD3's pooled vector)

Training is conditional flow matching on the linear path (flow_matching.cfm_loss); sampling
integrates the velocity with the package's fixed-step ODE solvers (flow_matching.solve_ode)
from N(0, I) at t = 0 to the latents at t = 1. Classifier-free guidance wraps the network:
v_u + w (v_c - v_u), the unconditional velocity read under the null features that caption
dropout trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from generative.continuous.diffusion_transformer import DiTBlock, FinalLayer, modulate
from generative.continuous.flow_matching import SOLVERS, solve_ode
from generative.errors import UserError, unknown_choice
from generative.hybrid.encoders import Features
from generative.hybrid.generator import CONDITIONING, CrossAttention, TextConditioned
from generative.hybrid.latent_ae import HalfAutoencoder
from generative.layers.embeddings import TimestepEmbedder


@dataclass
class LatentFlowConfig:
    channels: int  # latent channels
    grid: tuple[int, int]  # latent positions (rows, columns)
    text_dim: int
    conditioning: str = "xattn"
    hidden: int = 128
    depth: int = 4
    heads: int = 4


class CrossDiTBlock(nn.Module):
    """A DiT block (adaLN-Zero from c = embed(t)) with cross-attention to the caption between
    its self-attention and its MLP."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.dit = DiTBlock(hidden, heads)
        self.ln = nn.LayerNorm(hidden)
        self.cross = CrossAttention(hidden, heads)

    def forward(self, x, c, ctx, ctx_mask):
        b = self.dit
        s1, sc1, g1, s2, sc2, g2 = b.adaLN_modulation(c).chunk(6, dim=1)
        x = x + g1[:, None] * b.attn(modulate(b.norm1(x), s1, sc1))
        x = x + self.cross(self.ln(x), ctx, ctx_mask)
        return x + g2[:, None] * b.mlp(modulate(b.norm2(x), s2, sc2))


class LatentFlow(TextConditioned, nn.Module):
    """latents z_t (B, C, h, w), times t (B,) and the caption's Features -> velocity, same shape."""

    def __init__(self, cfg: LatentFlowConfig):
        super().__init__()
        if cfg.conditioning not in CONDITIONING:
            raise unknown_choice("conditioning", cfg.conditioning, CONDITIONING)
        self.cfg = cfg
        D, n = cfg.hidden, cfg.grid[0] * cfg.grid[1]
        self.in_proj = nn.Linear(cfg.channels, D)  # one token per latent position
        self.pos = nn.Parameter(torch.randn(1, n, D) * 0.02)
        self.t_embed = TimestepEmbedder(D)
        self.text_proj = nn.Linear(cfg.text_dim, D)
        self.null = nn.Parameter(torch.randn(1, cfg.text_dim) * 0.02)  # dropped caption
        make = CrossDiTBlock if cfg.conditioning == "xattn" else DiTBlock
        self.blocks = nn.ModuleList(make(D, cfg.heads) for _ in range(cfg.depth))
        self.final = FinalLayer(D, cfg.channels)
        # adaLN-Zero: the gated paths (self-attention, MLP) and the velocity start at 0; the
        # cross-attention of an xattn block is ungated: it writes to the residual stream at once
        mods = [(b.dit if cfg.conditioning == "xattn" else b).adaLN_modulation for b in self.blocks]
        for layer in [m[-1] for m in mods] + [self.final.adaLN_modulation[-1], self.final.linear]:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, z, t, feats: Features):
        B, C, H, W = z.shape
        h = self.in_proj(z.flatten(2).transpose(1, 2)) + self.pos  # (B, H W, D)
        c = self.t_embed(t.to(z.dtype))  # (B, D)
        if self.cfg.conditioning == "xattn":
            ctx = self.text_proj(feats.seq)  # (B, L, D)
            for block in self.blocks:
                h = block(h, c, ctx, feats.mask)
        else:
            c = c + self.text_proj(feats.pooled)
            for block in self.blocks:
                h = block(h, c)
        return self.final(h, c).transpose(1, 2).reshape(B, C, H, W)


# region: guidance
def guided_velocity(net: LatentFlow, feats: Features, w: float):
    """f(z, t) for the ODE solver: v_u + w (v_c - v_u) (w = 0: the unconditional velocity). w = 1
    is the conditional velocity in one call; any other w makes both, batched as one call."""
    if w == 1.0:
        return lambda z, t: net(z, t, feats)
    both = net.with_null(feats)

    def f(z, t):
        v_c, v_u = net(torch.cat([z, z]), torch.cat([t, t]), both).chunk(2)
        return v_u + w * (v_c - v_u)

    return f


# endregion


class LatentHybrid(nn.Module):
    """The two towers and the frozen autoencoder in one module (one checkpoint). The flow runs
    on latents normalized per channel (mean, std of the training latents: buffers, saved)."""

    def __init__(self, encoder: nn.Module, generator: LatentFlow, autoencoder: HalfAutoencoder):
        super().__init__()
        self.encoder, self.generator, self.autoencoder = encoder, generator, autoencoder
        self.autoencoder.requires_grad_(False).eval()
        shape = (1, autoencoder.channels, 1, 1)
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    @torch.no_grad()
    def latents(self, images: torch.Tensor, fit_stats: bool = False) -> torch.Tensor:
        """Normalized latents (B, C, 4, 4) of float images (B, 3, 16, 16); fit_stats: set the
        per-channel mean and std from these first."""
        z = self.autoencoder.encode(images)
        if fit_stats:
            self.mean.copy_(z.mean((0, 2, 3), keepdim=True))
            self.std.copy_(z.std((0, 2, 3), keepdim=True).clamp_min(1e-6))
        return (z - self.mean) / self.std

    def decode(self, z: torch.Tensor) -> np.ndarray:
        """uint8 images (B, 16, 16, 3) from normalized latents."""
        return self.autoencoder.decode(z * self.std + self.mean)

    def forward(self, z_t, t, caps, drop=None):
        feats = self.encoder(caps)
        if drop is not None:
            feats = self.generator.drop(feats, drop)
        return self.generator(z_t, t, feats)


@torch.no_grad()
def sample_latent(model, caps, guidance=1.0, steps=32, solver="heun", seed=0, **masked_only):
    """uint8 images (B, 16, 16, 3) for the captions through the ODE, and the network calls
    (guided steps count twice)."""
    if masked_only.get("decoder", "fixed") != "fixed":
        raise UserError("--decoder is the masked generator's; a latent-fm run takes --solver")
    if solver not in SOLVERS:
        raise unknown_choice("ODE solver", solver, SOLVERS)
    gen = model.generator
    feats = model.encoder(caps)  # encoded once
    g = torch.Generator().manual_seed(seed)
    z = torch.randn((len(caps), gen.cfg.channels, *gen.cfg.grid), generator=g)
    z, nfe = solve_ode(guided_velocity(gen, feats, guidance), z, steps, solver)
    images: np.ndarray = model.decode(z)
    return images, nfe * (1 if guidance == 1.0 else 2)
