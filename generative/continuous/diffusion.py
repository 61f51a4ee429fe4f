"""DDPM (Ho et al. 2020): the forward noising chain, its closed-form marginal, the training
losses for the epsilon / x0 / v targets, and two samplers (ancestral and DDIM).

Index convention: k = 0..T-1, k = 0 is the step nearest the data. The network sees the float
time k / T (so t_scale = 1000 turns it back into the integer step for the sinusoid).
Here x0 is the *data* (DDPM's naming); flow matching calls the data x1.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from generative.errors import unknown_choice
from generative.layers.broadcast import per_sample

SCHEDULES = ("linear", "cosine")
TARGETS = ("eps", "x0", "v")
VARIANCES = ("beta", "beta_tilde")


# region: schedules
def linear_betas(T: int) -> torch.Tensor:
    """Ho et al.: betas evenly spaced from 1e-4 to 0.02, whatever T. A short chain then never
    reaches noise (T = 50 leaves alpha-bar near 0.6): the lesson-02 failure, kept on purpose."""
    return torch.linspace(1e-4, 0.02, T, dtype=torch.float64)


def cosine_betas(T: int, s: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal: alpha-bar follows cos^2, betas read off it and clipped at 0.999."""
    k = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((k / T + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)


# endregion


# region: posterior
def posterior(abar, abar_prev):
    """q(x_prev | x_k, x_0) between two steps of the chain, from their alpha-bars alone.

    beta = 1 - abar / abar_prev is the effective beta between them (the schedule's own beta_k
    for neighbours, a larger one for a respaced chain). Bayes' rule on two Gaussians gives the
    mean coef1 x_0 + coef2 x_k and the variance beta-tilde. Returns (beta, coef1, coef2,
    beta_tilde)."""
    beta = 1 - abar / abar_prev
    coef1 = abar_prev.sqrt() * beta / (1 - abar)
    coef2 = (1 - beta).sqrt() * (1 - abar_prev) / (1 - abar)
    return beta, coef1, coef2, beta * (1 - abar_prev) / (1 - abar)


# endregion


class DDPM:
    """The forward chain q(x_k | x_{k-1}) = N(sqrt(1 - beta_k) x_{k-1}, beta_k I)."""

    def __init__(self, schedule: str = "linear", T: int = 1000, target: str = "eps"):
        if schedule not in SCHEDULES:
            raise unknown_choice("schedule", schedule, SCHEDULES)
        if target not in TARGETS:
            raise unknown_choice("DDPM target", target, TARGETS)
        self.schedule, self.T, self.target = schedule, T, target
        # region: coefficients
        self.betas = linear_betas(T) if schedule == "linear" else cosine_betas(T)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.alphas_cumprod_prev = torch.cat(
            [torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]]
        )
        # Bayes' rule on two Gaussians: q(x_{k-1} | x_k, x_0) = N(coef1 x_0 + coef2 x_k, beta-tilde)
        _, self.posterior_mean_coef1, self.posterior_mean_coef2, self.posterior_variance = (
            posterior(self.alphas_cumprod, self.alphas_cumprod_prev)
        )
        # endregion

    def net_time(self, k) -> torch.Tensor:
        """The float time a denoiser sees for integer step k."""
        return torch.as_tensor(k, dtype=torch.float32) / self.T

    # region: q_sample
    def q_sample(self, x0, k, noise):
        """Closed-form marginal: x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) eps."""
        abar = per_sample(self.alphas_cumprod[k], x0)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    # endregion

    # region: loss
    def loss(self, net, x0, y=None, generator=None):
        """L_simple: uniform k, Gaussian noise, mean squared error on the chosen target."""
        k = torch.randint(0, self.T, (x0.shape[0],), generator=generator)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)  # the CPU generator
        x_k = self.q_sample(x0, k, noise)
        abar = per_sample(self.alphas_cumprod[k], x0)
        if self.target == "eps":
            target = noise
        elif self.target == "x0":
            target = x0
        else:  # v = sqrt(abar) eps - sqrt(1 - abar) x0 (Salimans & Ho)
            target = abar.sqrt() * noise - (1 - abar).sqrt() * x0
        pred = net(x_k, self.net_time(k).to(x0.device), y)
        return (pred - target).pow(2).mean()

    # endregion

    # region: eps-and-x0
    def eps_and_x0(self, pred, x_k, abar):
        """Turn the network's output (whatever its target) into (eps-hat, x0-hat) at alpha-bar."""
        abar = per_sample(abar, x_k)
        a, s = abar.sqrt(), (1 - abar).sqrt()
        if self.target == "eps":
            return pred, (x_k - s * pred) / a
        if self.target == "x0":
            return (x_k - a * pred) / s, pred
        return a * pred + s * x_k, a * x_k - s * pred  # from v

    # endregion

    def respaced(self, steps: int) -> np.ndarray:
        """An evenly spaced subset of `steps` indices from 0 to T-1 (all of them when steps = T)."""
        if steps == 1:  # a one-step chain must still start at the noisiest step
            return np.array([self.T - 1])
        return np.unique(np.linspace(0, self.T - 1, min(steps, self.T)).round().astype(np.int64))

    # region: ancestral
    def sample_ancestral(self, net, x, steps=None, variance="beta", generator=None, traj=None):
        """Reverse chain: x_{k-1} ~ N(posterior mean from x0-hat, sigma^2), sigma^2 = beta or
        beta-tilde. With steps < T the chain runs on a respaced subset (betas recomputed)."""
        if variance not in VARIANCES:
            raise unknown_choice("ancestral variance", variance, VARIANCES)
        ks = self.respaced(steps or self.T)
        for i in range(len(ks) - 1, -1, -1):
            k = int(ks[i])
            abar = self.alphas_cumprod[k]
            abar_prev = (
                self.alphas_cumprod[ks[i - 1]] if i > 0 else torch.tensor(1.0, dtype=abar.dtype)
            )
            beta, coef1, coef2, beta_tilde = posterior(abar, abar_prev)  # between kept steps
            pred = net(x, self.net_time(k).expand(x.shape[0]))
            _, x0_hat = self.eps_and_x0(pred, x, abar)
            x = (coef1 * x0_hat + coef2 * x).float()
            if i > 0:
                var = beta if variance == "beta" else beta_tilde
                x = x + var.sqrt().float() * torch.randn(x.shape, generator=generator)
            if traj is not None:
                traj.append(x)
        return x, len(ks)

    # endregion

    # region: ddim
    def sample_ddim(self, net, x, steps=50, eta=0.0, clip_x0=None, generator=None, traj=None):
        """DDIM (Song et al.): jump along the respaced subset; eta = 0 is deterministic, eta = 1
        matches ancestral sampling with beta-tilde. clip_x0 clamps x0-hat (images: 1.0)."""
        ks = self.respaced(steps)
        for i in range(len(ks) - 1, -1, -1):
            k = int(ks[i])
            abar = self.alphas_cumprod[k]
            abar_prev = (
                self.alphas_cumprod[ks[i - 1]] if i > 0 else torch.tensor(1.0, dtype=abar.dtype)
            )
            pred = net(x, self.net_time(k).expand(x.shape[0]))
            eps, x0_hat = self.eps_and_x0(pred, x, abar)
            if clip_x0 is not None:
                x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
                eps = (x - abar.sqrt() * x0_hat) / (1 - abar).sqrt()
            sigma = eta * ((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)).sqrt()
            x = abar_prev.sqrt() * x0_hat + (1 - abar_prev - sigma**2).clamp(min=0).sqrt() * eps
            x = x.float()
            if i > 0 and eta > 0:
                x = x + sigma.float() * torch.randn(x.shape, generator=generator)
            if traj is not None:
                traj.append(x)
        return x, len(ks)

    # endregion
