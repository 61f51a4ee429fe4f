"""Think then draw: training the variants and scoring them with the exact glyph checker.

Scores of a composite prompt "draw a + b", over a set of pairs:
    accuracy        the drawing is a clean glyph of a + b
    trace_correct   the written trace says a + b = a + b (THINK variants)
    follows_trace   the drawing shows the trace's answer, right or wrong
and of a forced trace `THINK a + b = c' ENDTHINK BOI` with c' != a + b: how often c' is drawn.
Prompt rewriting, the two-tower baseline: a text model completes `BOS a + b =`, and a separate
drawer draws `BOS draw c BOI` from its answer.
"""

from __future__ import annotations

import numpy as np
import torch

from generative.discrete.data.glyphs import check_glyphs, glyph_tokenizer
from generative.unified.decode import generate, image_spans
from generative.unified.think import IMAGE_CODES, PairSplit, composite_prompt, think_corpus
from generative.unified.train import UnifiedTrainConfig, fit_documents
from generative.unified.vocab import Vocab

MAX_LEN = 80  # BOS draw a + b THINK a + b = c ENDTHINK BOI image EOI EOS
TOWERS = {"text": (0,), "drawer": (1,)}  # prompt rewriting's two single-purpose models


def think_sampler(v: Vocab, split: PairSplit, variant: str, p_counterfactual=0.3, kinds=(0, 1, 2)):
    def sample(g, batch):
        seed = int(torch.randint(2**31 - 1, (1,), generator=g))
        return think_corpus(v, split, variant, batch, p_counterfactual, seed, kinds)

    return sample


def train_think(
    cfg: UnifiedTrainConfig,
    split: PairSplit,
    variant: str,
    kinds=(0, 1, 2),
    p_counterfactual: float = 0.3,
):
    """A Chameleon-mode model on the think corpus of one variant: (model, loop state)."""
    v = Vocab()
    sample = think_sampler(v, split, variant, p_counterfactual, kinds)
    return fit_documents(cfg, v, MAX_LEN, sample)


def drawn_values(gen, v: Vocab) -> np.ndarray:
    """The number each row's image shows (-1: no clean glyph, or no image)."""
    codes, ok = image_spans(gen, v, 64)
    values = check_glyphs(glyph_tokenizer().decode(codes)).attributes["value"]
    return np.where(ok.numpy(), values, -1)


def trace_answers(gen, v: Vocab) -> np.ndarray:
    """The number after '=' inside each row's THINK .. ENDTHINK (-1 if none)."""
    out = np.full(len(gen.tokens), -1)
    for i, row in enumerate(gen.tokens.tolist()):
        if v.THINK in row and v.ids["="] in row[row.index(v.THINK) :]:
            k = row.index(v.ids["="], row.index(v.THINK)) + 1
            word = v.text[row[k]] if k < len(row) and row[k] < v.image_offset else ""
            out[i] = int(word) if word.isdigit() else -1
    return out


@torch.no_grad()
def score_composite(model, v: Vocab, pairs: np.ndarray, variant: str, seed: int = 0) -> dict:
    """Accuracy, trace correctness and trace following on prompts "draw a + b"."""
    g = torch.Generator().manual_seed(seed)
    prompts = [composite_prompt(v, int(a), int(b), variant) for a, b in pairs]
    gen = generate(model, v, prompts, 64, MAX_LEN, image_codes=IMAGE_CODES, generator=g)
    drawn, c = drawn_values(gen, v), pairs.sum(1)
    out = {
        "n": len(pairs),
        "valid": float((drawn >= 0).mean()),
        "accuracy": float((drawn == c).mean()),
    }
    if variant != "direct":
        t = trace_answers(gen, v)
        out["trace_correct"] = float((t == c).mean())
        out["follows_trace"] = float((drawn == t)[t >= 0].mean()) if (t >= 0).any() else 0.0
    return out


# region: forced-trace
@torch.no_grad()
def score_forced(model, v: Vocab, pairs: np.ndarray, seed: int = 0) -> dict:
    """How often a forced wrong trace answer c' (a + b + k mod 100, k in 1..99) is drawn."""
    rng = np.random.default_rng(seed)
    forced = (pairs.sum(1) + rng.integers(1, 100, len(pairs))) % 100
    prompts = [
        composite_prompt(v, int(a), int(b), "think", int(c))
        for (a, b), c in zip(pairs, forced, strict=True)
    ]
    drawn = draw_values(model, v, prompts, seed)
    return {
        "n": len(pairs),
        "follows_forced": float((drawn == forced).mean()),
        "draws_true_sum": float((drawn == pairs.sum(1)).mean()),
    }


# endregion


@torch.no_grad()
def score_rewrite(text_model, drawer, v: Vocab, pairs: np.ndarray, seed: int = 0) -> dict:
    """Prompt rewriting: the text model's greedy answer to `a + b =`, drawn by the drawer."""
    prompts = [[v.BOS, *v.encode_text(f"{a} + {b} =")] for a, b in pairs]
    ans = generate(text_model, v, prompts, 64, len(prompts[0]) + 2, temperature=0.0)
    words = [v.text[int(r[len(p)])] for r, p in zip(ans.tokens, prompts, strict=True)]
    c = np.array([int(w) if w.isdigit() else 0 for w in words])
    draw = [[v.BOS, *v.encode_text(f"draw {x}"), v.BOI] for x in c]
    drawn = draw_values(drawer, v, draw, seed)
    return {
        "n": len(pairs),
        "rewrite_correct": float((c == pairs.sum(1)).mean()),
        "accuracy": float((drawn == pairs.sum(1)).mean()),
    }


def draw_values(model, v: Vocab, prompts, seed: int) -> np.ndarray:
    """The numbers the glyph images drawn after `prompts` show (exact checker; -1: none)."""
    gen = generate(
        model, v, prompts, 64, MAX_LEN, image_codes=IMAGE_CODES,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    return drawn_values(gen, v)
