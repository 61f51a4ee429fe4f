"""Token data for the generators: `shapes` and `digits-glyphs` through their exact 2x2 patch
tokenizers, with a condition prefix (none, a class label, or a caption) and the exact checker.

Classes: shapes -> shape x colour (16 classes; quadrant and jitter left free), glyphs -> the
digit (10 classes). Captions (shapes only): the scene's caption as word tokens, e.g. "a red
square in the top left", which also fixes the quadrant. Conditional accuracy asks the checker
whether a valid sample shows exactly the attributes its condition names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from generative.errors import UserError, unknown_choice

DATASETS = ("shapes", "digits-glyphs")
CONDS = ("none", "class", "caption")


@dataclass
class TokenData:
    """Train and held-out token sequences (N, L) with their conditions (N, P) and labels."""

    name: str
    cond_kind: str
    tokens: torch.Tensor
    cond: torch.Tensor | None
    test_tokens: torch.Tensor
    test_cond: torch.Tensor | None
    vocab_size: int
    seq_len: int
    cond_vocab: int  # incl. the null id; 0 when unconditional
    cond_len: int
    num_classes: int  # 0 unless cond_kind == "class"

    # region: prompts
    def prompts(self, n: int, seed: int = 0):
        """Conditions to sample with and the attributes they ask for: classes in turn (a
        balanced set), or the captions of fresh scenes. (cond (n, P) or None, labels or None)."""
        if self.cond_kind == "none":
            return None, None
        if self.cond_kind == "class":
            c = np.arange(n) % self.num_classes
            return torch.from_numpy(c)[:, None], self._class_labels(c)
        from generative.discrete.data.shapes import make_shapes

        scenes = make_shapes(n, seed=10_000 + seed)
        return _caption_tokens(scenes.captions), scenes.labels

    # endregion

    def _class_labels(self, c: np.ndarray) -> dict:
        if self.name == "shapes":
            return {"shape": c // 4, "colour": c % 4}
        return {"value": c}

    def decode(self, tokens) -> np.ndarray:
        """uint8 images (N, 16, 16, C)."""
        return _tokenizer(self.name).decode(tokens)

    def score(self, tokens, labels=None) -> dict:
        """Per-sample validity and (with labels) conditional accuracy by the exact checker."""
        images = self.decode(tokens)
        if self.name == "shapes":
            from generative.discrete.data.checker import check

            res = check(images)
        else:
            from generative.discrete.data.glyphs import check_glyphs

            res = check_glyphs(images)
        out = {"valid": res.valid}
        if labels is not None:
            out["cond_ok"] = res.matches(labels, keys=tuple(labels))
        return out


def _tokenizer(name: str):
    if name == "shapes":
        from generative.discrete.data.patch_tokenizer import PatchTokenizer

        return PatchTokenizer()
    from generative.discrete.data.glyphs import glyph_tokenizer

    return glyph_tokenizer()


def caption_words() -> list[str]:
    """The caption vocabulary of single-object shapes scenes (the null caption id comes last)."""
    from generative.discrete.data.shapes import COLOURS, QUADRANTS, SHAPES

    words = {"a", "in", "the"} | set(COLOURS) | set(SHAPES)
    words |= {w for q in QUADRANTS for w in q.split()}
    return sorted(words)


def _caption_tokens(captions: list[str]) -> torch.Tensor:
    index = {w: i for i, w in enumerate(caption_words())}
    return torch.tensor([[index[w] for w in c.split()] for c in captions])  # (N, 7)


# region: load-token-data
def load_token_data(
    name: str, cond: str = "class", n_train: int = 20000, seed: int = 0, n_test: int = 1000
) -> TokenData:
    """Generate, tokenize and condition a data set (a few seconds; nothing is downloaded)."""
    if name not in DATASETS:
        raise unknown_choice("token data set", name, DATASETS)
    if cond not in CONDS:
        raise unknown_choice("condition", cond, CONDS)
    if cond == "caption" and name != "shapes":
        raise UserError("captions exist for shapes only; use --cond class or none")
    tok = _tokenizer(name)
    parts = []
    for n, s in ((n_train, seed), (n_test, 1_000_003 + seed)):  # held-out: another stream
        if name == "shapes":
            from generative.discrete.data.shapes import make_shapes

            d = make_shapes(n, seed=s)
            klass, caps = 4 * d.labels["shape"] + d.labels["colour"], d.captions
        else:
            from generative.discrete.data.glyphs import make_glyphs

            d = make_glyphs(n, seed=s)
            klass, caps = d.labels["value"], None
        c = None
        if cond == "class":
            c = torch.from_numpy(klass)[:, None]
        elif cond == "caption":
            c = _caption_tokens(caps)
        parts.append((tok.encode(d.images), c))
    num_classes = 16 if name == "shapes" else 10
    cond_vocab, cond_len = {
        "none": (0, 0),
        "class": (num_classes + 1, 1),
        "caption": (len(caption_words()) + 1, 7),
    }[cond]
    return TokenData(
        name,
        cond,
        parts[0][0],
        parts[0][1],
        parts[1][0],
        parts[1][1],
        tok.vocab_size,
        tok.seq_len,
        cond_vocab,
        cond_len,
        num_classes if cond == "class" else 0,
    )


# endregion
