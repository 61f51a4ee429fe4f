"""Grammar-constrained decoding of the unified transformer in Chameleon mode (causal, image
tokens in raster order), with optional classifier-free guidance on the image span.

The grammar is a mask on the logits, so it holds for any network, trained or not:

    inside BOI .. EOI   only image codes (of the data set's tokenizer), exactly image_len of
                        them, then EOI and nothing else
    outside             only text words (THINK and ENDTHINK included), BOI and EOS
    after EOS           PAD (the row is finished)

Guidance: while a row is inside an image span, its logits are u + s (c - u), where c is the
network's output on the row itself and u on the unconditional prompt `BOS BOI` followed by the
image tokens written so far (the caption dropped). s = 1 is plain conditional sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from generative.discrete.objectives.categorical import sample_logits
from generative.unified.documents import pad_rows
from generative.unified.vocab import Vocab


# region: grammar
class Grammar:
    """Per-row state of the document grammar: which ids may come next."""

    def __init__(self, v: Vocab, image_len: int, image_codes: int | None = None, rows: int = 1):
        self.v, self.image_len = v, image_len
        codes = v.image_codes if image_codes is None else image_codes
        V = v.size
        self.image = torch.zeros(V, dtype=torch.bool)
        self.image[v.image_offset : v.image_offset + codes] = True
        self.outside = torch.zeros(V, dtype=torch.bool)
        self.outside[v.text_ids()] = True
        self.outside[[v.BOI, v.EOS]] = True
        self.eoi, self.pad = (torch.arange(V) == v.EOI), (torch.arange(V) == v.PAD)
        self.count = torch.full((rows,), -1, dtype=torch.long)  # image tokens so far; -1 outside
        self.done = torch.zeros(rows, dtype=torch.bool)

    def advance(self, tok: torch.Tensor):
        """Update the state with one token per row (B,)."""
        v = self.v
        self.done |= tok == v.EOS
        inside = self.count >= 0
        self.count = torch.where(inside & (tok == v.EOI), -1, self.count + inside.long())
        self.count = torch.where(tok == v.BOI, 0, self.count)

    def read(self, rows: list[list[int]]):
        """Advance through prompts of different lengths (right-padded rows are skipped)."""
        for i in range(max(len(r) for r in rows)):
            tok = torch.tensor([r[i] if i < len(r) else -1 for r in rows])
            active = tok >= 0
            saved = (self.count.clone(), self.done.clone())
            self.advance(tok)
            self.count = torch.where(active, self.count, saved[0])
            self.done = torch.where(active, self.done, saved[1])

    def allowed(self) -> torch.Tensor:
        """bool (B, V): the ids each row may write next."""
        full = (self.count == self.image_len)[:, None]
        inside = (self.count >= 0)[:, None] & ~full
        out = torch.where(inside, self.image, self.outside)
        out = torch.where(full, self.eoi, out)
        return torch.where(self.done[:, None], self.pad, out)

    @property
    def in_image(self) -> torch.Tensor:
        return (self.count >= 0) & (self.count < self.image_len)


# endregion


@dataclass
class Generation:
    tokens: torch.Tensor  # (B, L) prompt + written tokens, PAD after EOS
    lengths: torch.Tensor  # (B,) tokens up to and including EOS (or max_len)
    nfe: int  # network calls (a guided call counts twice)


def _last_logits(model, buf, lengths):
    logits = model(buf[:, : int(lengths.max())])  # (B, L, V)
    return logits[torch.arange(len(buf)), lengths - 1]  # (B, V)


# region: generate
@torch.no_grad()
def generate(
    model,
    v: Vocab,
    prompts: list[list[int]],
    image_len: int,
    max_len: int,
    image_codes: int | None = None,
    temperature: float = 1.0,
    guidance: float = 1.0,
    generator=None,
) -> Generation:
    """Continue every prompt under the grammar until EOS or max_len tokens."""
    B = len(prompts)
    buf = pad_rows(prompts, v.PAD, max_len)  # (B, max_len)
    lengths = torch.tensor([len(p) for p in prompts])
    grammar = Grammar(v, image_len, image_codes, rows=B)
    grammar.read(prompts)
    img_start = torch.zeros(B, dtype=torch.long)  # where the current image span began
    nfe = 0
    while (live := ~grammar.done & (lengths < max_len)).any():
        logits = _last_logits(model, buf, lengths)  # (B, V)
        nfe += 1
        guide = grammar.in_image & ~grammar.done
        if guidance != 1.0 and guide.any():
            u = _uncond_logits(model, v, buf, lengths, img_start, guide)
            logits[guide] = u + guidance * (logits[guide] - u)
            nfe += 1
        logits = logits.masked_fill(~grammar.allowed(), float("-inf"))
        tok = sample_logits(logits, temperature, generator)  # (B,)
        tok = torch.where(live, tok, v.PAD)
        buf[live, lengths[live]] = tok[live]
        img_start = torch.where(tok == v.BOI, lengths + 1, img_start)
        grammar.advance(tok)
        lengths = lengths + live.long()
    return Generation(buf, lengths, nfe)


def _uncond_logits(model, v: Vocab, buf, lengths, img_start, rows):
    """Logits after `BOS BOI image-so-far` for the guided rows: (R, V)."""
    prompts = [
        [v.BOS, v.BOI, *buf[i, int(img_start[i]) : int(lengths[i])].tolist()]
        for i in rows.nonzero()[:, 0].tolist()
    ]
    ubuf = pad_rows(prompts, v.PAD)
    return _last_logits(model, ubuf, torch.tensor([len(p) for p in prompts]))


# endregion


def image_spans(gen: Generation, v: Vocab, image_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first image span of every row as codes (B, image_len) and whether the row has a
    complete one (B,); rows without one get zeros (the empty image)."""
    B = len(gen.tokens)
    codes = torch.zeros(B, image_len, dtype=torch.long)
    ok = torch.zeros(B, dtype=torch.bool)
    for i in range(B):
        row = gen.tokens[i, : int(gen.lengths[i])]
        boi = (row == v.BOI).nonzero()
        if len(boi) == 0:
            continue
        span = row[int(boi[0]) + 1 : int(boi[0]) + 1 + image_len]
        if len(span) == image_len and bool(v.is_image(span).all()):
            codes[i], ok[i] = span - v.image_offset, True
    return codes, ok


def texts_after_image(gen: Generation, v: Vocab) -> list[str]:
    """The words between the first EOI and the next EOS or BOI of every row (the caption)."""
    out = []
    for i in range(len(gen.tokens)):
        row = gen.tokens[i, : int(gen.lengths[i])].tolist()
        start = row.index(v.EOI) + 1 if v.EOI in row else len(row)
        stops = [k for k in range(start, len(row)) if row[k] in (v.EOS, v.BOI)]
        end = stops[0] if stops else len(row)
        out.append(v.decode_text(row[start:end]))
    return out
