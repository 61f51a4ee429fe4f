"""Show-o mode decoding: the image span is written by MaskGIT's masked parallel decoding.

The prompt `BOS caption BOI` is followed by image_len MASK tokens and EOI, so the span has the
image's length and EOI closes it by construction (the grammar of decode.py holds trivially).
Every round runs the network once over the whole document with full attention inside the span
(Show-o mask) and hands MaskGIT's decoder the logits of the span restricted to the image codes:
the decoder works in code space, where the mask id is image_codes.
"""

from __future__ import annotations

import torch

from generative.discrete.objectives.maskgit import decode
from generative.unified.documents import pad_rows
from generative.unified.vocab import Vocab


# region: showo-span
def span_documents(v: Vocab, prompts: list[list[int]], image_len: int):
    """`prompt MASK x image_len EOI` right-padded: (tokens (B, L), span (B, L) bool)."""
    rows = [[*p, *[v.MASK] * image_len, v.EOI] for p in prompts]
    tokens = pad_rows(rows, v.PAD)
    pos = torch.arange(tokens.shape[1])[None]
    start = torch.tensor([len(p) for p in prompts])[:, None]
    return tokens, (pos >= start) & (pos < start + image_len)


class SpanNet:
    """The unified model as MaskGIT's tokens_to_logits: codes (B, N) with mask id image_codes in,
    logits (B, N, image_codes) of the span out; with guidance, u + s (c - u) where u comes from
    the unconditional documents `BOS BOI span EOI`."""

    def __init__(self, model, v, prompts, image_len, image_codes, guidance=1.0):
        self.model, self.v, self.codes, self.guidance = model, v, image_codes, guidance
        self.docs = [span_documents(v, prompts, image_len)]
        if guidance != 1.0:
            self.docs.append(span_documents(v, [[v.BOS, v.BOI]] * len(prompts), image_len))
        self.calls = 0

    def _logits(self, codes, tokens, span):
        B, N = codes.shape
        ids = torch.where(codes == self.codes, self.v.MASK, codes + self.v.image_offset)
        tokens = tokens.clone()
        tokens[span] = ids.flatten()  # row-major: each row's span in order
        self.calls += 1
        logits = self.model(tokens, span)[span].reshape(B, N, -1)  # (B, N, V)
        return logits[..., self.v.image_offset : self.v.image_offset + self.codes]

    def __call__(self, codes):
        c = self._logits(codes, *self.docs[0])
        if len(self.docs) == 1:
            return c
        u = self._logits(codes, *self.docs[1])
        return u + self.guidance * (c - u)


# endregion


@torch.no_grad()
def showo_generate(
    model,
    v: Vocab,
    prompts: list[list[int]],
    image_len: int,
    image_codes: int | None = None,
    steps: int = 8,
    guidance: float = 1.0,
    temperature: float = 1.0,
    choice_temperature: float = 4.5,
    known: torch.Tensor | None = None,
    generator=None,
):
    """Image codes (B, image_len) for prompts ending in BOI, and the network calls used.
    known: (B, image_len) codes with image_codes where the span is to be written (editing)."""
    codes = v.image_codes if image_codes is None else image_codes
    net = SpanNet(model, v, prompts, image_len, codes, guidance)
    if known is None:
        known = torch.full((len(prompts), image_len), codes, dtype=torch.long)
    res = decode(
        known,
        net,
        codes,
        steps=steps,
        temperature=temperature,
        choice_temperature=choice_temperature,
        generator=generator,
    )
    return res.tokens, net.calls
