"""Captions that need binding: two-object `shapes` scenes, their words, attributes and swap pairs.

A caption names a shape and a colour for each half and the vertical relation between them:

    "a red square on the left, above a blue circle on the right"

Its swap partner exchanges the colours between the two shapes:

    "a blue square on the left, above a red circle on the right"

Both use the same bag of words, so any encoder that forgets word order (bag of words, a mean of
word vectors) gives the two captions the same features, and the generator must draw the same
distribution for both. Each object's colour is then right for at most one caption of the pair:
colour accuracy on swap pairs is at most 50% (the bag-of-words ceiling), binding as well.

`attrs` (B, 5) are what the caption says as five slots, the input of the oracle encoder:
left shape, left colour, right shape, right colour, relation (0 above, 1 below, 2 level with).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from generative.discrete.data import shapes as S
from generative.errors import UserError

RELATIONS = ("above", "below", "level with")
PAD = 0
WORDS = ("PAD", "a", "on", "the", "left", "right", ",", "above", "below", "level", "with")
WORDS += S.COLOURS + S.SHAPES
IDS = {w: i for i, w in enumerate(WORDS)}
MAX_LEN = 15  # "level with" captions: 15 words with the comma
SLOTS = (len(S.SHAPES), len(S.COLOURS), len(S.SHAPES), len(S.COLOURS), len(RELATIONS))
GRAMMAR = "a COLOUR SHAPE on the left, (above | below | level with) a COLOUR SHAPE on the right"


@dataclass
class Captions:
    """A batch of captions: word ids (B, MAX_LEN) padded with PAD, and their five attribute
    slots (B, 5); text keeps the strings."""

    words: torch.Tensor
    attrs: torch.Tensor
    text: list[str]

    def __len__(self) -> int:
        return len(self.text)

    def take(self, idx) -> Captions:
        idx = torch.as_tensor(idx)
        return Captions(self.words[idx], self.attrs[idx], [self.text[i] for i in idx.tolist()])


def relation(rows) -> int:
    """Relation id of the left object to the right one from their rows (0 top, 1 bottom)."""
    return 2 if rows[0] == rows[1] else (0 if rows[0] < rows[1] else 1)


def caption_text(attrs) -> str:
    ls, lc, rs, rc, rel = (int(a) for a in attrs)
    left, right = f"a {S.COLOURS[lc]} {S.SHAPES[ls]}", f"a {S.COLOURS[rc]} {S.SHAPES[rs]}"
    return f"{left} on the left, {RELATIONS[rel]} {right} on the right"


def _unknown(word: str) -> UserError:
    return UserError(
        f"unknown word '{word}'; the vocabulary is: {' '.join(WORDS[1:])}. "
        f"Captions follow the grammar: {GRAMMAR}"
    )


def parse(text: str) -> tuple[list[int], list[int]]:
    """(word ids, the five attribute slots) of one caption; a UserError names the first word
    that breaks the grammar."""
    words = text.strip().replace(",", " , ").split()
    for w in words:
        if w not in IDS or w == "PAD":
            raise _unknown(w)
    rel_words = words[7:-6]
    rel = " ".join(rel_words)
    ok = (
        len(words) in (14, 15)
        and words[0] == "a"
        and words[3:7] == ["on", "the", "left", ","]
        and rel in RELATIONS
        and words[-6] == "a"
        and words[-3:] == ["on", "the", "right"]
    )
    lc, ls, rc, rs = words[1], words[2], words[-5], words[-4]
    if not ok or lc not in S.COLOURS or rc not in S.COLOURS:
        raise UserError(f"'{text}' does not follow the caption grammar: {GRAMMAR}")
    if ls not in S.SHAPES or rs not in S.SHAPES:
        raise UserError(f"'{text}' does not follow the caption grammar: {GRAMMAR}")
    attrs = [S.SHAPES.index(ls), S.COLOURS.index(lc), S.SHAPES.index(rs), S.COLOURS.index(rc)]
    return [IDS[w] for w in words], attrs + [RELATIONS.index(rel)]


def encode(texts: list[str]) -> Captions:
    """Captions from strings (each checked by `parse`)."""
    if not texts:
        raise UserError("no caption given")
    words = torch.full((len(texts), MAX_LEN), PAD, dtype=torch.long)
    attrs = torch.zeros(len(texts), len(SLOTS), dtype=torch.long)
    for i, t in enumerate(texts):
        ids, a = parse(t)
        words[i, : len(ids)] = torch.tensor(ids)
        attrs[i] = torch.tensor(a)
    return Captions(words, attrs, list(texts))


def scene_attrs(labels: dict) -> np.ndarray:
    """The five slots (N, 5) of two-object `shapes` labels (object 0 left, 1 right)."""
    rows = np.asarray(labels["quadrant"]) // 2  # (N, 2)
    rel = np.where(rows[:, 0] == rows[:, 1], 2, np.where(rows[:, 0] < rows[:, 1], 0, 1))
    sh, co = np.asarray(labels["shape"]), np.asarray(labels["colour"])
    return np.stack([sh[:, 0], co[:, 0], sh[:, 1], co[:, 1], rel], axis=1)


# region: binding-slots
def swap(attrs) -> np.ndarray:
    """The swap partners: colours exchanged between the two shapes."""
    out = np.array(attrs, copy=True)
    out[..., 1], out[..., 3] = attrs[..., 3], attrs[..., 1]
    return out


def swap_pairs(n_pairs: int, seed: int = 0) -> Captions:
    """2 n_pairs captions, rows 2i and 2i+1 a swap pair: different shapes and different
    colours (otherwise the swap changes nothing), relations drawn uniformly."""
    rng = np.random.default_rng(seed)
    a = np.zeros((n_pairs, 5), dtype=np.int64)
    a[:, 0] = rng.integers(0, len(S.SHAPES), n_pairs)
    a[:, 2] = (a[:, 0] + rng.integers(1, len(S.SHAPES), n_pairs)) % len(S.SHAPES)
    a[:, 1] = rng.integers(0, len(S.COLOURS), n_pairs)
    a[:, 3] = (a[:, 1] + rng.integers(1, len(S.COLOURS), n_pairs)) % len(S.COLOURS)
    a[:, 4] = rng.integers(0, len(RELATIONS), n_pairs)
    both = np.stack([a, swap(a)], axis=1).reshape(-1, 5)  # (2 n, 5) interleaved
    return encode([caption_text(r) for r in both])


# endregion
