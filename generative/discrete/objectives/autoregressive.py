"""The autoregressive baseline: the same transformer with a causal mask predicts token i from
tokens 0..i-1 (after a BOS token and the condition prefix). Its likelihood is exact, and
sampling takes N network calls for N tokens; a KV cache makes each call process one new token
instead of the whole prefix again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from generative.discrete.models.transformer import KVCache
from generative.discrete.objectives.categorical import sample_logits


def shift_right(x, bos_id: int):
    """[BOS, x_0, ..., x_{N-2}]: the inputs that predict x_0 .. x_{N-1}."""
    bos = torch.full((x.shape[0], 1), bos_id, dtype=torch.long, device=x.device)
    return torch.cat([bos, x[:, :-1]], dim=1)  # (B, N)


# region: ar-loss
def ar_loss(net, x, bos_id: int, cond=None, generator=None):
    """Next-token cross-entropy, nats per token (generator unused: no noise in this loss)."""
    logits = net(shift_right(x, bos_id), cond)  # (B, N, V)
    return F.cross_entropy(logits.flatten(0, 1), x.flatten())


# endregion


@torch.no_grad()
def bits_per_token(net, x, cond=None, batch: int = 256) -> float:
    """The exact negative log-likelihood of x under the model, in bits per token."""
    total = 0.0
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        cb = None if cond is None else cond[i : i + batch]
        logits = net(shift_right(xb, net.cfg.bos_id), cb)
        total += F.cross_entropy(logits.flatten(0, 1), xb.flatten(), reduction="sum").item()
    return total / x.numel() / math.log(2)


@dataclass
class ARSample:
    tokens: torch.Tensor  # (B, N)
    nfe: int


# region: ar-sample
@torch.no_grad()
def ar_sample(
    net,
    n: int,
    seq_len: int,
    bos_id: int,
    cond=None,
    temperature: float = 1.0,
    kv_cache: bool = True,
    generator=None,
) -> ARSample:
    """Draw n sequences of seq_len tokens one by one. With the cache, each call feeds only the
    newest token; without it, each call re-reads the whole sequence so far. Same tokens either
    way. net(tokens, cond, cache=...) -> (B, L, V) is a causal model with a KV cache."""
    x = torch.full((n, 1), bos_id, dtype=torch.long)  # (B, 1)
    cache = KVCache(len(net.blocks)) if kv_cache else None  # one (k, v) pair per block
    for i in range(seq_len):
        inp = x[:, -1:] if kv_cache and i > 0 else x
        logits = net(inp, cond, cache=cache)[:, -1]  # (B, V): next-token logits
        x = torch.cat([x, sample_logits(logits, temperature, generator)[:, None]], dim=1)
    return ARSample(x[:, 1:], seq_len)


# endregion
