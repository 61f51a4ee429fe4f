"""What every quantizer reports: its output, and codebook statistics over a whole pass.

Usage is measured over a whole held-out pass, not one batch: a batch of 256 vectors cannot hit
4096 codes, and a code that one batch misses may serve the next. Perplexity, exp of the entropy
of the code histogram, is the effective number of codes: K for a uniform histogram, 1 when one
code takes everything. It exposes what usage hides: "100% used" with a few dominant codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class QuantizerOutput:
    """z_q: quantized vectors, shape of the input (..., D), carrying the straight-through
    gradient; indices: int64 (...); loss: auxiliary loss to add (0 for FSQ); error: mean over
    vectors of the squared distance between what was rounded and its code."""

    z_q: torch.Tensor
    indices: torch.Tensor
    loss: torch.Tensor
    error: torch.Tensor


# region: perplexity
def perplexity(counts: torch.Tensor) -> float:
    """exp(entropy) of a histogram of code counts (zeros allowed)."""
    p = counts.double() / counts.sum().clamp_min(1)
    h = -(p * p.clamp_min(1e-300).log()).sum()
    return float(h.exp())


# endregion


class CodeStats:
    """Accumulates a code histogram and the quantization error over many batches."""

    def __init__(self, num_codes: int):
        self.counts = torch.zeros(num_codes, dtype=torch.long)
        self.error_sum, self.n = 0.0, 0

    def update(self, out: QuantizerOutput):
        idx = out.indices.reshape(-1)
        self.counts += torch.bincount(idx, minlength=len(self.counts)).cpu()
        self.error_sum += float(out.error) * idx.numel()
        self.n += idx.numel()

    def result(self) -> dict:
        """usage (share of codes hit at least once), perplexity, its ratio to K, mean error."""
        k = len(self.counts)
        ppl = perplexity(self.counts)
        return {
            "usage": float((self.counts > 0).float().mean()),
            "perplexity": ppl,
            "perplexity_ratio": ppl / k,
            "error": self.error_sum / max(self.n, 1),
            "num_codes": k,
        }
