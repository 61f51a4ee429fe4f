"""Vector quantization (VQ-VAE): nearest code, straight-through gradient, and two ways to learn
the codebook.

update="loss" (van den Oord et al. 2017): the codebook loss ||sg[z] - e||^2 pulls each used code
toward the encoder outputs assigned to it, and the commitment loss beta ||z - sg[e]||^2 (beta =
0.25) keeps the encoder near its codes.

update="ema": each code is the running mean of the vectors assigned to it. With decay gamma,
    N_k <- gamma N_k + (1 - gamma) n_k          (n_k: vectors assigned to code k in the batch)
    m_k <- gamma m_k + (1 - gamma) sum of them
    e_k  = m_k / N~_k,   N~_k = (N_k + eps) / (N + K eps) * N   (Laplace smoothing, N = sum N_k)
Only the commitment loss remains. Every code starts as if it held one vector at its own position
(N_k = 1, m_k = e_k), so a code never hit stays where it was instead of drifting.

Dead-code restart (either update): a code whose running count N_k falls under a threshold is moved
to a random encoder output of the current batch. Codes that lose every competition stop learning
(no gradient, no EMA update); restarting them puts them where the data is.

straight_through=False returns the code itself, cutting the gradient from decoder to encoder:
the encoder then learns only from the commitment loss (lesson 11's "why STE" demonstration).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from generative.discrete.tokenizers.code_stats import QuantizerOutput
from generative.errors import UserError, unknown_choice

INITS = ("random", "far", "kmeans")
UPDATES = ("loss", "ema")


def kmeans(x: torch.Tensor, k: int, iters: int = 10) -> torch.Tensor:
    """k-means++ seeding (each new centre drawn with probability ~ squared distance to the
    nearest one so far), then Lloyd's iterations; (k, D)."""
    c = x[torch.randint(len(x), (1,))]
    for _ in range(k - 1):
        d2 = torch.cdist(x, c).min(1).values.pow(2)
        p = d2 / d2.sum() if d2.sum() > 0 else torch.full_like(d2, 1 / len(x))
        c = torch.cat([c, x[torch.multinomial(p, 1)]])
    for _ in range(iters):
        a = torch.cdist(x, c).argmin(1)
        onehot = F.one_hot(a, k).to(x.dtype)  # (M, K)
        n = onehot.sum(0)
        c = torch.where(n[:, None] > 0, (onehot.T @ x) / n.clamp_min(1)[:, None], c)
    return c


class VectorQuantizer(nn.Module):
    """Nearest-code quantizer over the last dimension of its input (..., dim)."""

    def __init__(
        self,
        num_codes: int,
        dim: int,
        beta: float = 0.25,
        update: str = "loss",
        decay: float = 0.99,
        eps: float = 1e-5,
        dead_threshold: float = 0.0,
        straight_through: bool = True,
        init: str = "random",
        init_scale: float = 1.0,
    ):
        super().__init__()
        if num_codes < 1:
            raise UserError(f"the codebook needs at least 1 code, got K = {num_codes}")
        if update not in UPDATES:
            raise unknown_choice("codebook update", update, UPDATES)
        if init not in INITS:
            raise unknown_choice("codebook init", init, INITS)
        if not 0.0 <= decay < 1.0:
            raise UserError(f"EMA decay must be in [0, 1), got {decay}")
        self.num_codes, self.dim, self.beta = num_codes, dim, beta
        self.update, self.decay, self.eps = update, decay, eps
        self.dead_threshold, self.straight_through, self.init = (
            dead_threshold,
            straight_through,
            init,
        )
        e = torch.randn(num_codes, dim) * init_scale
        if init == "far":  # every code in a far corner: the textbook setting for collapse
            e = 4.0 * init_scale + 0.1 * init_scale * torch.randn(num_codes, dim)
        self.codebook = nn.Parameter(e, requires_grad=update == "loss")
        self.register_buffer("ema_count", torch.ones(num_codes))
        self.register_buffer("ema_sum", e.clone())
        self.register_buffer("initialized", torch.tensor(init != "kmeans"))
        self.restarts = 0  # codes moved by dead-code restart so far

    # region: quantize
    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the closest code for each row of flat (M, D)."""
        e = self.codebook
        d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.T + e.pow(2).sum(1)  # (M, K)
        return d.argmin(1)

    def codes(self, indices: torch.Tensor) -> torch.Tensor:
        return self.codebook[indices]

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        flat = z.reshape(-1, self.dim)  # (M, D)
        if self.training and not bool(self.initialized):
            self.set_codebook(kmeans(flat.detach(), self.num_codes))
            self.initialized.fill_(True)
        idx = self.nearest(flat.detach())
        q = self.codebook[idx]  # (M, D)
        commit = F.mse_loss(flat, q.detach())
        loss = self.beta * commit
        if self.update == "loss":
            loss = loss + F.mse_loss(q, flat.detach())
        error = (flat.detach() - q.detach()).pow(2).sum(1).mean()
        if self.training:
            self.ema_step(flat.detach(), idx)
        z_q = flat + (q - flat).detach() if self.straight_through else q
        return QuantizerOutput(z_q.reshape(z.shape), idx.reshape(z.shape[:-1]), loss, error)

    # endregion

    @torch.no_grad()
    def set_codebook(self, e: torch.Tensor):
        self.codebook.data.copy_(e)
        self.ema_sum.copy_(e * self.ema_count[:, None])

    # region: ema
    @torch.no_grad()
    def ema_step(self, flat: torch.Tensor, idx: torch.Tensor):
        """Running counts (always: they find dead codes), the EMA codebook, then restarts."""
        onehot = F.one_hot(idx, self.num_codes).to(flat.dtype)  # (M, K)
        g = self.decay
        self.ema_count.mul_(g).add_(onehot.sum(0), alpha=1 - g)
        if self.update == "ema":
            self.ema_sum.mul_(g).add_(onehot.T @ flat, alpha=1 - g)
            n = self.ema_count.sum()
            smoothed = (self.ema_count + self.eps) / (n + self.num_codes * self.eps) * n
            self.codebook.data.copy_(self.ema_sum / smoothed[:, None])
        if self.dead_threshold > 0:
            self.restart_dead(flat)

    @torch.no_grad()
    def restart_dead(self, flat: torch.Tensor):
        """Move every code whose running count is under the threshold to a random batch vector;
        it restarts with count = threshold, so it must win some vectors to stay."""
        dead = (self.ema_count < self.dead_threshold).nonzero().squeeze(1)
        if len(dead) == 0:
            return
        new = flat[torch.randint(len(flat), (len(dead),), device=flat.device)]
        self.codebook.data[dead] = new
        self.ema_count[dead] = self.dead_threshold
        self.ema_sum[dead] = new * self.dead_threshold
        self.restarts += len(dead)

    # endregion
