"""Token data for the generators: a registered data set (data/registry.py) through its exact
tokenizer, with a condition prefix (none, a class label, or a caption) and the exact checker.

Classes: shapes -> shape x colour (16 classes; quadrant and jitter left free), glyphs -> the
digit (10 classes). Captions (shapes only): the scene's caption as word tokens, e.g. "a red
square in the top left", which also fixes the quadrant. Conditional accuracy asks the checker
whether a valid sample shows exactly the attributes its condition names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from generative.discrete.data.registry import DATASETS as REGISTRY
from generative.discrete.data.registry import Scenes, get_dataset
from generative.errors import UserError, unknown_choice

__all__ = ["CONDS", "DATASETS", "TokenData", "load_token_data", "caption_words", "condition"]

CONDS = ("none", "class", "caption")
DATASETS = tuple(REGISTRY)  # the names


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
        scenes = get_dataset(self.name).make(n, 10_000 + seed)
        named = ("shape", "colour", "quadrant")  # what a caption names (not the jitter)
        return _caption_tokens(scenes.captions), {k: scenes.labels[k] for k in named}

    # endregion

    def _class_labels(self, c: np.ndarray) -> dict:
        return get_dataset(self.name).class_labels(c)

    def decode(self, tokens) -> np.ndarray:
        """uint8 images (N, 16, 16, C)."""
        return get_dataset(self.name).tokenizer().decode(tokens)

    def score(self, tokens, labels=None) -> dict:
        """Per-sample validity and (with labels) conditional accuracy by the exact checker."""
        res = get_dataset(self.name).check(self.decode(tokens))
        out = {"valid": res.valid}
        if labels is not None:
            out["cond_ok"] = res.matches(labels, keys=tuple(labels))
        return out

    def clean_scenes(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Every clean scene as tokens (M, L), its condition (M, P) or None, and its probability
        (M,) under the data: what the exact oracle conditions on."""
        s = get_dataset(self.name).scenes()
        tokens = get_dataset(self.name).tokenizer().encode(s.images)
        return tokens, condition(self.cond_kind, s), torch.from_numpy(s.prob)


def _tokenizer(name: str):
    """The data set's exact tokenizer (train_tokens' structured D3PM kernel reads its patches)."""
    return get_dataset(name).tokenizer()


def caption_words() -> list[str]:
    """The caption vocabulary of single-object shapes scenes (the null caption id comes last)."""
    from generative.discrete.data.shapes import COLOURS, QUADRANTS, SHAPES

    words = {"a", "in", "the"} | set(COLOURS) | set(SHAPES)
    words |= {w for q in QUADRANTS for w in q.split()}
    return sorted(words)


def _caption_tokens(captions: list[str]) -> torch.Tensor:
    index = {w: i for i, w in enumerate(caption_words())}
    return torch.tensor([[index[w] for w in c.split()] for c in captions])  # (N, 7)


def condition(kind: str, scenes: Scenes) -> torch.Tensor | None:
    """The condition prefix of each scene: None, its class (N, 1) or its caption words (N, 7)."""
    if kind == "class":
        return torch.from_numpy(np.asarray(scenes.classes, np.int64))[:, None]
    if kind == "caption":
        return _caption_tokens(scenes.captions)
    return None


# region: load-token-data
def load_token_data(
    name: str, cond: str = "class", n_train: int = 20000, seed: int = 0, n_test: int = 1000
) -> TokenData:
    """Generate, tokenize and condition a data set (a few seconds; nothing is downloaded)."""
    ds = get_dataset(name)
    if cond not in CONDS:
        raise unknown_choice("condition", cond, CONDS)
    if cond == "caption" and not ds.captions:
        raise UserError(f"{name} has no captions; use --cond class or none")
    tok = ds.tokenizer()
    parts = []
    for n, s in ((n_train, seed), (n_test, 1_000_003 + seed)):  # held-out: another stream
        scenes = ds.make(n, s)
        parts.append((tok.encode(scenes.images), condition(cond, scenes)))
    cond_vocab, cond_len = {
        "none": (0, 0),
        "class": (ds.num_classes + 1, 1),
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
        ds.num_classes if cond == "class" else 0,
    )


# endregion
