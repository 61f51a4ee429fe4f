"""Mask schedules gamma(r): the share of tokens still masked once a fraction r of the decoding
is done (MaskGIT, Chang et al. 2022, section 3.3). gamma(0) = 1 (all masked), gamma(1) = 0.

Training draws r ~ U(0, 1) and masks ceil(gamma(r) * N) tokens, so the schedule also sets which
mask ratios the network sees most. The paper groups them by shape: concave (cosine, square,
cubic, exp) unmask few tokens first and many at the end; linear unmasks the same number a round;
convex (sqrt, log) unmask many first. `log` and `exp` depend on the sequence length n, as in the
paper's code.
"""

from __future__ import annotations

import math

import torch

from generative.errors import unknown_choice


# region: mask-schedules
def gamma(name: str, r: torch.Tensor, n: int = 64) -> torch.Tensor:
    """Mask ratio at decoding progress r in [0, 1] (a tensor), clipped to [0, 1]."""
    r = torch.as_tensor(r, dtype=torch.float64).clamp(0.0, 1.0)
    if name == "cosine":
        out = torch.cos(math.pi / 2 * r)
    elif name == "linear":
        out = 1 - r
    elif name == "square":
        out = 1 - r**2
    elif name == "cubic":
        out = 1 - r**3
    elif name == "sqrt":
        out = 1 - r.sqrt()
    elif name == "log":  # -log2(r) / log2(n): 1 at r = 1/n, 0 at r = 1
        out = -torch.log2(r.clamp_min(1e-12)) / math.log2(n)
    elif name == "exp":  # 1 - 2^(-log2(n) (1 - r)) = 1 - n^(r - 1): 1 - 1/n at r = 0
        out = 1 - torch.exp2(-math.log2(n) * (1 - r))
    else:
        raise unknown_choice("mask schedule", name, SCHEDULES)
    return out.clamp(0.0, 1.0)


# endregion

SCHEDULES = ("cosine", "linear", "square", "cubic", "sqrt", "log", "exp")
CONCAVE, CONVEX = ("cosine", "square", "cubic", "exp"), ("sqrt", "log")
