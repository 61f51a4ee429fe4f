"""D3PM (Austin et al. 2021): a discrete-time diffusion over tokens. Each step moves a token by
a transition matrix, q(x_t | x_{t-1}) = Cat(x_{t-1} Q_t) with rows as "from"; after t steps the
marginal is q(x_t | x_0) = Cat(x_0 Qbar_t), Qbar_t = Q_1 Q_2 ... Q_t, in closed form for the
three kernels here:

- absorbing: a token stays with prob. 1 - beta_t or jumps to MASK, which it never leaves;
  Qbar_t = abar_t I + (1 - abar_t) 1 e_mask^T. The masked models are this kernel.
- uniform: a token stays or is redrawn uniformly; Qbar_t = abar_t I + (1 - abar_t) 11^T / K.
- structured: a token drifts to similar tokens, Q_t = expm(dtau_t R) for a rate matrix R built
  from token affinities (e.g. the patches' pixels); the Q_t commute, so Qbar_t = expm(tau_t R).

All three share abar_t = 1 - t / T, the share of tokens not yet touched (for the structured
kernel: the decay of its slowest mode). The network predicts x_0 from x_t and t; the reverse
step is p(x_{t-1} | x_t) ~ sum over x_0 of q(x_{t-1}, x_t | x_0) p(x_0 | x_t).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from generative.errors import unknown_choice

KERNELS = ("absorbing", "uniform", "structured")


def gaussian_affinity(features: torch.Tensor) -> torch.Tensor:
    """Token affinities exp(-d^2 / (2 s^2)) from feature vectors (K, F), s = the median
    distance; the default features are the token ids themselves (an ordinal structure)."""
    d2 = torch.cdist(features.double(), features.double()) ** 2  # (K, K)
    s2 = d2[d2 > 0].median()
    a = torch.exp(-d2 / (2 * s2))
    return a.fill_diagonal_(0.0)


def rate_matrix(affinity: torch.Tensor) -> torch.Tensor:
    """R = A - diag(A 1), scaled so its slowest mode decays as exp(-tau)."""
    a = affinity.double()
    r = a - torch.diag(a.sum(1))
    eig = torch.linalg.eigvalsh(r)  # ascending; the largest is 0
    gap = -eig[-2]
    if gap <= 1e-9:
        raise ValueError("the token affinity graph is disconnected: some tokens never mix")
    return r / gap


# region: d3pm-marginals
class D3PM:
    """Step matrices Q[t] (t = 1..T) and marginals Qbar[t] (t = 0..T), float64, rows = from."""

    def __init__(self, kernel: str, vocab_size: int, T: int = 100, affinity=None):
        if kernel not in KERNELS:
            raise unknown_choice("D3PM kernel", kernel, KERNELS)
        K = vocab_size
        self.kernel, self.K, self.T = kernel, K, T
        self.abar = 1 - torch.arange(T + 1, dtype=torch.float64) / T  # (T+1,), 1 -> 0
        if kernel == "absorbing":
            self.S, self.mask_id = K + 1, K
            target = F.one_hot(torch.tensor(K), K + 1).double()[None].expand(K + 1, -1)  # 1 e_m^T
        elif kernel == "uniform":
            self.S, self.mask_id = K, None
            target = torch.full((K, K), 1.0 / K, dtype=torch.float64)
        if kernel in ("absorbing", "uniform"):
            eye = torch.eye(self.S, dtype=torch.float64)
            ab = self.abar[:, None, None]
            self.Qbar = ab * eye + (1 - ab) * target  # (T+1, S, S)
            beta = 1 - self.abar[1:] / self.abar[:-1]  # abar_t = prod (1 - beta_s)
            b = torch.cat([torch.zeros(1), beta])[:, None, None]
            self.Q = (1 - b) * eye + b * target  # (T+1, S, S); Q[0] unused
        else:  # structured: tau_t = -log abar_t, floored so the last step stays finite
            self.S, self.mask_id = K, None
            if affinity is None:
                affinity = gaussian_affinity(torch.arange(K, dtype=torch.float64)[:, None])
            self.R = rate_matrix(affinity)
            tau = -torch.log(self.abar.clamp_min(1e-3))
            self.Qbar = torch.linalg.matrix_exp(tau[:, None, None] * self.R)  # (T+1, S, S)
            dtau = torch.cat([torch.zeros(1, dtype=torch.float64), tau.diff()])
            self.Q = torch.linalg.matrix_exp(dtau[:, None, None] * self.R)
        self.Qbar = self.Qbar.clamp_min(0.0)  # matrix_exp round-off can leave -1e-17
        self.Q = self.Q.clamp_min(0.0)
        # p(x_T): all MASK, or the kernels' stationary law (uniform: R and 11^T/K are symmetric)
        self.prior = self.Qbar[T][0] if kernel == "absorbing" else torch.full((K,), 1.0 / K)
        self.prior = self.prior.double()

    # endregion

    def q_sample(self, x0, t, generator=None):
        """x_t ~ q(x_t | x_0) for per-row steps t (B,)."""
        probs = self.Qbar[t][torch.arange(len(t))[:, None], x0]  # (B, N, S)
        u = torch.rand(probs.shape[:-1], generator=generator, dtype=torch.float64)[..., None]
        return (probs.cumsum(-1) < u).sum(-1).clamp_max(self.S - 1)  # inverse CDF, (B, N)

    # region: d3pm-posterior
    def reverse_probs(self, x0_probs, xt, t):
        """p(x_{t-1} | x_t) ~ Q_t[x_{t-1}, x_t] * sum_x0 p(x0) Qbar_{t-1}[x0, x_{t-1}].
        x0_probs (B, N, K) over real tokens; with a one-hot x0 this is q(x_{t-1} | x_t, x0)."""
        B = len(t)
        from_xt = self.Q[t].transpose(1, 2)[torch.arange(B)[:, None], xt]  # (B, N, S)
        from_x0 = x0_probs.double() @ self.Qbar[t - 1][:, : self.K]  # (B, N, S)
        p = from_xt * from_x0
        return p / p.sum(-1, keepdim=True).clamp_min(1e-30)

    # endregion

    def step_terms(self, net, x0, cond=None, t=None, generator=None):
        """Per-row terms of the bound at step t (B,): KL(q(x_{t-1}|x_t,x0) || p(x_{t-1}|x_t))
        summed over positions, or -log p(x0 | x1) at t = 1; plus the logits for the x0 loss."""
        xt = self.q_sample(x0, t, generator)
        logits = net(xt, cond, t=t.float() / self.T)  # (B, N, K)
        p = self.reverse_probs(logits.float().softmax(-1), xt, t)
        q = self.reverse_probs(F.one_hot(x0, self.K), xt, t)
        logp = p.clamp_min(1e-30).log()
        kl = torch.where(q > 0, q * (q.clamp_min(1e-30).log() - logp), 0.0).sum(-1)  # (B, N)
        nll0 = -logp.gather(-1, x0[..., None])[..., 0]  # (B, N): x_{t-1} = x_0 when t = 1
        return torch.where(t[:, None] == 1, nll0, kl).sum(1), logits

    def loss(self, net, x0, cond=None, generator=None, ce_weight: float = 0.01):
        """The hybrid loss: one random step of the bound (per token) + ce_weight * CE on x0."""
        t = torch.randint(1, self.T + 1, (x0.shape[0],), generator=generator)
        terms, logits = self.step_terms(net, x0, cond, t, generator)
        ce = F.cross_entropy(logits.flatten(0, 1), x0.flatten())
        return terms.float().mean() / x0.shape[1] + ce_weight * ce

    def prior_kl(self, x0) -> torch.Tensor:
        """KL(q(x_T | x_0) || p(x_T)) summed over positions, per row."""
        q = self.Qbar[self.T][x0]  # (B, N, S)
        kl = torch.where(q > 0, q * (q.clamp_min(1e-30).log() - self.prior.log()), 0.0)
        return kl.sum((-1, -2))

    @torch.no_grad()
    def bits_per_token(self, net, x0, cond=None, passes: int = 4, seed: int = 0) -> float:
        """The negative ELBO in bits per token: L_T + T * E_t[L_{t-1}], t stratified over rows."""
        g = torch.Generator().manual_seed(seed)
        total = self.prior_kl(x0).sum().item()
        for k in range(passes):
            t = (
                1
                + (torch.arange(len(x0)) + k * 7919 + int(torch.randint(self.T, (1,), generator=g)))
                % self.T
            )
            terms, _ = self.step_terms(net, x0, cond, t, g)
            total += self.T * terms.sum().item() / passes
        return total / x0.numel() / math.log(2)


@torch.no_grad()
def d3pm_sample(d3pm: D3PM, denoise, n: int, seq_len: int, generator=None) -> torch.Tensor:
    """Ancestral sampling: x_T from the prior, then x_{t-1} ~ p(x_{t-1} | x_t) for t = T..1.
    denoise(x_t, t) -> x_0 logits (B, N, K): the network with its condition bound, t in [0, 1]."""
    idx = torch.multinomial(d3pm.prior.float(), n * seq_len, replacement=True, generator=generator)
    x = idx.reshape(n, seq_len)
    for t in range(d3pm.T, 0, -1):
        tt = torch.full((n,), t)
        logits = denoise(x, tt.float() / d3pm.T)
        p = d3pm.reverse_probs(logits.float().softmax(-1), x, tt)  # (B, N, S)
        x = torch.multinomial(p.flatten(0, 1).float(), 1, generator=generator).reshape(n, seq_len)
    return x.clamp_max(d3pm.K - 1)  # at t = 1 no mass is left on MASK
