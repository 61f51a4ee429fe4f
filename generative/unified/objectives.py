"""The two training losses of the unified transformer, one per attention pattern.

Chameleon: next-token cross-entropy on every token after BOS (PAD excluded), causal attention.

Show-o: the image span of text -> image documents is partly replaced by MASK (ratio gamma(r),
r ~ U(0, 1), as MaskGIT trains) and each masked position predicts its own token under full
attention inside the span; every other token is predicted from the one before it, as in
Chameleon, except the first image token and EOI (positions whose predictor sits in the span:
the grammar writes EOI, and BOI's next token is written by parallel decoding). Image -> text
documents keep their image clean: the caption reads the whole image through causal attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from generative.discrete.objectives.schedules import gamma
from generative.unified.documents import T2I, Documents


# region: chameleon-loss
def chameleon_loss(model, docs: Documents, pad: int, generator=None) -> torch.Tensor:
    """Next-token cross-entropy, nats per token, over every non-PAD target (generator unused)."""
    x, y, keep = docs.inputs_targets(pad)
    logits = model(x)  # (B, L-1, V)
    return F.cross_entropy(logits[keep], y[keep])


# endregion


def mask_image_spans(docs: Documents, mask_id: int, schedule: str = "cosine", generator=None):
    """Replace gamma(r) of the image tokens of text -> image rows by MASK (at least one):
    (tokens (B, L), masked (B, L) bool)."""
    span = docs.image_span()  # (B, L)
    B = len(docs)
    r = torch.rand(B, generator=generator)
    n_mask = (gamma(schedule, r, docs.image_len) * docs.image_len).ceil().long().clamp(1)
    n_mask = torch.where(docs.direction == T2I, n_mask, 0)  # (B,)
    noise = torch.rand(docs.tokens.shape, generator=generator).masked_fill(~span, 2.0)
    rank = noise.argsort(1).argsort(1)  # random order of the span positions, span first
    masked = span & (rank < n_mask[:, None])
    return docs.tokens.masked_fill(masked, mask_id), masked


# region: showo-loss
def showo_loss(model, docs: Documents, pad: int, mask_id: int, generator=None) -> torch.Tensor:
    """Masked-token loss inside the image span plus next-token loss outside it, one mean."""
    tokens, masked = mask_image_spans(docs, mask_id, generator=generator)
    span = docs.image_span()
    logits = model(tokens, span)  # (B, L, V)
    # next-token terms: predictor i and target i + 1 both outside the span, target not PAD
    nxt = ~span[:, :-1] & ~span[:, 1:] & docs.targets(pad)[:, 1:]  # (B, L-1)
    # the EOI after the span is the grammar's job: its predictor is the span's last token
    losses = [
        F.cross_entropy(logits[:, :-1][nxt], docs.tokens[:, 1:][nxt], reduction="sum"),
        F.cross_entropy(logits[masked], docs.tokens[masked], reduction="sum"),
    ]
    return sum(losses) / (nxt.sum() + masked.sum())


# endregion
