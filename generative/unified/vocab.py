"""One vocabulary for text and image tokens: one embedding table, one softmax (Chameleon).

Ids, in order:

    specials   PAD BOS EOS BOI EOI THINK ENDTHINK MASK
    words      the caption grammar of `shapes` (one and two objects), the numbers 0..99 and the
               arithmetic words of the glyph prompts, the task words draw / describe / edit
    image      the codes of the exact 2x2 patch tokenizer, image_id = image_offset + code

MASK is not a word of any document: it stands for a not-yet-written image token in the Show-o
mode (masked parallel decoding inside the image span). A number 0..99 is one word, so the trace
`THINK 3 + 4 = 7 ENDTHINK` is six tokens. Captions are split on spaces with the comma of the
two-object captions as a word of its own; decode_text joins them back, so encode -> decode is the
identity on every caption of the data sets.

The image codes are those of the `shapes` tokenizer (1 + 15 x 4 = 61). The one-colour glyph
tokenizer's 16 codes are the same formula with one palette colour, so they are the first 16
image ids: a glyph document uses only those, and decoding must use the tokenizer of the data
set the document came from (`image_vocab` in decode.py limits a span to that tokenizer's codes).
"""

from __future__ import annotations

import torch

from generative.discrete.data import shapes as S
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.errors import UserError

SPECIALS = ("PAD", "BOS", "EOS", "BOI", "EOI", "THINK", "ENDTHINK", "MASK")


def caption_words() -> list[str]:
    """Every word of the `shapes` caption grammar, one and two objects."""
    words = ["a", "in", "the", "on", ",", "above", "below", "level", "with"]
    words += list(S.COLOURS) + list(S.SHAPES)
    for q in S.QUADRANTS:
        words += q.split()
    return list(dict.fromkeys(words))  # unique, in first-seen order


NUMBER_WORDS = [str(v) for v in range(100)]
ARITHMETIC_WORDS = ["+", "-", "="]
TASK_WORDS = ["draw", "describe", "edit", "first", "second", "of", "colour", "shape", "to"]


class Vocab:
    """Text words, special tokens and image codes in one id space."""

    def __init__(self, image_codes: int | None = None):
        self.image_codes = PatchTokenizer().vocab_size if image_codes is None else image_codes
        words = caption_words() + NUMBER_WORDS + ARITHMETIC_WORDS + TASK_WORDS
        words = list(dict.fromkeys(words))
        self.text = list(SPECIALS) + words  # id -> string, specials then words
        self.ids = {w: i for i, w in enumerate(self.text)}
        self.words = words
        self.image_offset = len(self.text)
        self.size = self.image_offset + self.image_codes
        for name in SPECIALS:  # self.PAD, self.BOS, ... as ids
            setattr(self, name, self.ids[name])

    # region: text
    def encode_text(self, text: str) -> list[int]:
        """Ids of a caption or prompt; a word outside the vocabulary is a UserError that
        lists the vocabulary."""
        out = []
        for w in text.replace(",", " , ").split():
            if w not in self.ids or w in SPECIALS:
                raise UserError(
                    f"unknown word '{w}'; the vocabulary is: {' '.join(self.words)} "
                    f"(and the markers {' '.join(SPECIALS)}, which are not prompt words)"
                )
            out.append(self.ids[w])
        return out

    def decode_text(self, ids) -> str:
        """The words of text ids (specials by name, image codes as IMG<code>), commas
        re-attached to the word before."""
        words = [
            self.text[i] if i < self.image_offset else f"IMG{i - self.image_offset}"
            for i in map(int, ids)
        ]
        return " ".join(words).replace(" ,", ",")

    # endregion

    # region: image
    def encode_image(self, codes) -> torch.Tensor:
        """Tokenizer codes (..., N) -> vocabulary ids."""
        codes = torch.as_tensor(codes, dtype=torch.long)
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.image_codes):
            raise UserError(f"image codes must lie in 0..{self.image_codes - 1}")
        return codes + self.image_offset

    def decode_image(self, ids) -> torch.Tensor:
        """Vocabulary ids (..., N) -> tokenizer codes; raises if an id is not an image id."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        if ids.numel() and not self.is_image(ids).all():
            raise UserError("decode_image: the span holds ids that are not image tokens")
        return ids - self.image_offset

    def is_image(self, ids) -> torch.Tensor:
        ids = torch.as_tensor(ids)
        return (ids >= self.image_offset) & (ids < self.size)

    # endregion

    def text_ids(self) -> torch.Tensor:
        """Ids of every word plus THINK and ENDTHINK: what may be written outside an image."""
        ids = [self.ids[w] for w in self.words] + [self.THINK, self.ENDTHINK]
        return torch.tensor(sorted(ids), dtype=torch.long)

    def __len__(self) -> int:
        return self.size
