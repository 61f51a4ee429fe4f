"""The continuous autoencoder under latent flow matching (the latent-diffusion / SD3 pattern): a
16x16x3 two-object scene -> a (C, 4, 4) grid of real numbers -> the scene back.

Why not discrete/tokenizers/autoencoder.py as it stands: it is built around a quantizer (its
latent width comes from the quantizer, `forward` quantizes) and its convolutions see across the
middle of the image. Here the two 16x8 halves, one object each, are encoded and decoded apart by
one shared conv stack (its `block`), so latent columns 0-1 describe the left half and 2-3 the
right: the checker scores each half, and an error in one cannot leak into the other.

The scenes hold five colours (black and PALETTE), so the decoder gives each pixel logits over
those five (a categorical likelihood, trained by cross-entropy) and decodes to the argmax: exact
pixels, which the snapping checker needs. Gaussian noise on the latent while training, with a
small penalty on its size (the role of SD's KL term), keeps the decoder tolerant of the flow's
imperfect samples (a larger noise: clean latents moved off their place still decode near-valid
more often, at no cost to the round trip of clean scenes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generative.discrete.data.shapes import PALETTE, make_shapes, to_float
from generative.discrete.tokenizers.autoencoder import block
from generative.errors import UserError
from generative.loop import LoopConfig, fit, start

COLOURS = np.concatenate([np.zeros((1, 3), np.uint8), PALETTE])  # class 0: background


class HalfAutoencoder(nn.Module):
    """images (B, 3, 16, 16) in [0, 1] <-> latents (B, C, 4, 4); each half on its own."""

    def __init__(self, channels: int = 4, width: int = 32):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            block(3, w // 2),
            nn.Conv2d(w // 2, w, 4, stride=2, padding=1), nn.SiLU(),  # 16x8 -> 8x4
            nn.Conv2d(w, w, 4, stride=2, padding=1), nn.SiLU(),  # -> 4x2
            block(w, w), nn.Conv2d(w, channels, 1),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Conv2d(channels, w, 1), nn.SiLU(), block(w, w),
            nn.ConvTranspose2d(w, w, 4, stride=2, padding=1), nn.SiLU(),
            nn.ConvTranspose2d(w, w // 2, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(w // 2, len(COLOURS), 3, padding=1),
        )  # fmt: skip
        self.channels = channels

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != (3, 16, 16):
            raise UserError(f"the autoencoder takes images (B, 3, 16, 16), got {tuple(x.shape)}")
        halves = torch.cat(x.chunk(2, dim=3))  # (2B, 3, 16, 8): left halves, then right
        return torch.cat(self.encoder(halves).chunk(2), dim=3)  # (B, C, 4, 4)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """Per-pixel colour logits (B, 5, 16, 16) from latents (B, C, 4, 4)."""
        halves = torch.cat(z.chunk(2, dim=3))  # (2B, C, 4, 2)
        return torch.cat(self.decoder(halves).chunk(2), dim=3)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> np.ndarray:
        """uint8 images (B, 16, 16, 3): each pixel the most likely of the five colours."""
        return COLOURS[self.logits(z).argmax(1).cpu().numpy()]


def colour_index(images: np.ndarray) -> torch.Tensor:
    """uint8 images (N, 16, 16, 3) -> class ids (N, 16, 16) into COLOURS."""
    match = (images[:, :, :, None, :] == COLOURS).all(-1)  # (N, 16, 16, 5)
    if not match.any(-1).all():
        raise UserError("images hold a colour outside the scenes' palette")
    return torch.from_numpy(match.argmax(-1))


@dataclass
class AEConfig:
    steps: int = 3000  # enough for a near-perfect round trip of held-out clean scenes
    batch_size: int = 64
    lr: float = 2e-3
    warmup: int = 20
    clip: float = 1.0
    seed: int = 0
    threads: int = 1
    noise: float = 0.5  # latent noise while training: a decoder that tolerates the flow's misses
    penalty: float = 1e-3  # weight of mean z^2


def ae_loss(cfg: AEConfig, images: torch.Tensor, labels: torch.Tensor):
    def loss_fn(net, streams):
        idx = torch.randint(len(images), (cfg.batch_size,), generator=streams.gen)
        z = net.encode(images[idx])
        noisy = z + cfg.noise * torch.randn(z.shape, generator=streams.noise)
        ce = F.cross_entropy(net.logits(noisy), labels[idx])
        return ce + cfg.penalty * z.pow(2).mean(), ce

    return loss_fn


def train_autoencoder(cfg: AEConfig, uint8_images: np.ndarray, channels: int = 4):
    """A HalfAutoencoder trained with the one loop on these scenes; (model in eval mode, state)."""
    lc = LoopConfig.of(cfg, device="cpu", desc="latent autoencoder")
    d = start(lc)
    net = HalfAutoencoder(channels)
    images, labels = torch.from_numpy(to_float(uint8_images)), colour_index(uint8_images)
    fitted = fit(lc, d, net, ae_loss(cfg, images, labels), progress=False)
    return fitted.model.eval(), fitted.state


def ceiling(ae: HalfAutoencoder, n: int = 512, seed: int = 99) -> dict:
    """decode(encode(clean scenes)) scored by the checker: what no latent generator can beat."""
    from generative.hybrid.captions import scene_attrs
    from generative.hybrid.score import score

    s = make_shapes(n, seed=seed, two_objects=True)
    with torch.no_grad():
        out = ae.decode(ae.encode(torch.from_numpy(to_float(s.images))))
    return score(out, scene_attrs(s.labels))
