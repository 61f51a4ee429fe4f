"""Reasoning over two input images (issue 15, item 5): documents, training and exact scoring.

A composition document shows two single-object `shapes` scenes and an instruction, and answers
with a drawing:

    DIRECT  BOS BOI img1 EOI BOI img2 EOI <instruction> BOI answer EOI EOS
    THINK   BOS BOI img1 EOI BOI img2 EOI <instruction> THINK <shape> <colour> ENDTHINK
            BOI answer EOI EOS

The two instructions ask for the shape of one image in the colour of the other:

    draw the shape of the first in the colour of the second
    draw the shape of the second in the colour of the first

The answer is the shape's image (same shape, quadrant and jitter) recoloured, so "copy the first
image" is right only when the first already has the asked colour (or shape): a 1/4 floor. Every
word is already in the Vocab (the task words first / second / of / colour / shape), so the
experiment uses the default Vocab unchanged: no id moves, no word is added.

The training mixture is the single-image documents of exp40 (caption -> image and image ->
caption, every (shape, colour)) plus composition documents whose answer (shape, colour) is in the
trained set; the held-out combinations (one per shape and one per colour) are never the answer of
a training composition, though each is drawn and captioned in the single-image documents. The
prompt (both images and the instruction) is given, not predicted: it carries no loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from generative.discrete.data import shapes as S
from generative.discrete.data.checker import KEYS, check
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.errors import unknown_choice
from generative.unified.decode import generate
from generative.unified.documents import T2I, Documents, i2t_document, pad_rows, t2i_document
from generative.unified.vocab import Vocab

VARIANTS = ("direct", "think")
INSTRUCTIONS = (
    "draw the shape of the first in the colour of the second",
    "draw the shape of the second in the colour of the first",
)
IMAGE_LEN = 64
# BOS, two images with their markers, the instruction, the trace, the answer with markers, EOS
MAX_LEN = 1 + 2 * (IMAGE_LEN + 2) + len(INSTRUCTIONS[0].split()) + 4 + IMAGE_LEN + 2 + 1


@dataclass
class ComboSplit:
    """(shape, colour) answers (M, 2) whose composition documents are trained, and held-out ones."""

    trained: np.ndarray
    held_out: np.ndarray


def split_combos(seed: int = 0) -> ComboSplit:
    """Hold out one colour per shape, a different colour for each shape (a random permutation),
    so every shape and every colour is still the answer of three trained combinations."""
    perm = np.random.default_rng(seed).permutation(len(S.COLOURS))
    held = {(s, int(perm[s])) for s in range(len(S.SHAPES))}
    every = [(s, c) for s in range(len(S.SHAPES)) for c in range(len(S.COLOURS))]
    return ComboSplit(
        np.array([p for p in every if p not in held]), np.array([p for p in every if p in held])
    )


@dataclass
class Tasks:
    """N two-image tasks: instruction (N,) an index into INSTRUCTIONS; first, second, answer:
    label name (KEYS) -> int64 (N,)."""

    instruction: np.ndarray
    first: dict
    second: dict
    answer: dict

    def __len__(self) -> int:
        return len(self.instruction)

    def images(self, which: str) -> np.ndarray:
        """uint8 (N, 16, 16, 3): the first, second or answer scenes, rendered exactly."""
        lab = getattr(self, which)
        return S.render(*(lab[k] for k in KEYS))


def make_tasks(n: int, combos: np.ndarray, seed: int = 0) -> Tasks:
    """n tasks whose answers are drawn uniformly from `combos` (M, 2); every other attribute
    (the source's colour, the other image's shape, positions) uniformly at random."""
    rng = np.random.default_rng(seed)
    instr = rng.integers(0, len(INSTRUCTIONS), n)
    shape, colour = combos[rng.integers(0, len(combos), n)].T
    geom = lambda: {  # noqa: E731  (a fresh position for each image)
        "quadrant": rng.integers(0, 4, n),
        "jitter_y": rng.integers(0, S.JITTER, n),
        "jitter_x": rng.integers(0, S.JITTER, n),
    }
    source = {"shape": shape, "colour": rng.integers(0, len(S.COLOURS), n), **geom()}
    donor = {"shape": rng.integers(0, len(S.SHAPES), n), "colour": colour, **geom()}
    answer = {**source, "colour": colour}
    pick = lambda a, b: {k: np.where(instr == 0, a[k], b[k]) for k in KEYS}  # noqa: E731
    return Tasks(instr, pick(source, donor), pick(donor, source), answer)


# region: documents
def trace(v: Vocab, shape: int, colour: int) -> list[int]:
    """THINK <shape> <colour> ENDTHINK."""
    return [v.THINK, v.ids[S.SHAPES[shape]], v.ids[S.COLOURS[colour]], v.ENDTHINK]


def prompt_head(v: Vocab, img1: list[int], img2: list[int], instruction: int) -> list[int]:
    """BOS BOI img1 EOI BOI img2 EOI <instruction>: what every composition starts with."""
    words = v.encode_text(INSTRUCTIONS[instruction])
    return [v.BOS, v.BOI, *img1, v.EOI, v.BOI, *img2, v.EOI, *words]


def composition_prompt(v: Vocab, head: list[int], variant: str) -> list[int]:
    """The prompt the model continues: head + BOI (DIRECT) or head + THINK (it writes the
    trace, then the drawing)."""
    if variant not in VARIANTS:
        raise unknown_choice("multi-image variant", variant, VARIANTS)
    return [*head, v.BOI] if variant == "direct" else [*head, v.THINK]


def composition_document(v: Vocab, head, answer_img, shape, colour, variant) -> list[int]:
    mid = trace(v, shape, colour) if variant == "think" else []
    return [*head, *mid, v.BOI, *answer_img, v.EOI, v.EOS]


def encode_scenes(v: Vocab, images: np.ndarray) -> list[list[int]]:
    return v.encode_image(PatchTokenizer().encode(images)).tolist()


def task_heads(v: Vocab, tasks: Tasks) -> list[list[int]]:
    img1, img2 = (encode_scenes(v, tasks.images(w)) for w in ("first", "second"))
    rows = zip(img1, img2, tasks.instruction, strict=True)
    return [prompt_head(v, a, b, int(i)) for a, b, i in rows]


# endregion


def corpus(v: Vocab, split: ComboSplit, variant: str, n: int, p_single: float, seed: int):
    """n documents: single-image ones (either direction, any scene) with probability p_single,
    else compositions with trained answers; the composition prompts are marked no_loss."""
    rng = np.random.default_rng(seed)
    single = rng.random(n) < p_single
    k = int(single.sum())
    rows, boi, prompt_len, direction = [], [], [], []
    if k:
        scenes = S.make_shapes(k, seed=seed)
        imgs = encode_scenes(v, scenes.images)
        for cap, img, d in zip(scenes.captions, imgs, rng.integers(0, 2, k), strict=True):
            c = v.encode_text(cap)
            rows.append(t2i_document(v, c, img) if d == T2I else i2t_document(v, c, img))
            boi.append(1 + len(c) if d == T2I else 1)
            prompt_len.append(0)
            direction.append(int(d))
    if n - k:
        tasks = make_tasks(n - k, split.trained, seed=seed + 1)
        answers = encode_scenes(v, tasks.images("answer"))
        a = tasks.answer
        for j, (head, img) in enumerate(zip(task_heads(v, tasks), answers, strict=True)):
            doc = composition_document(v, head, img, a["shape"][j], a["colour"][j], variant)
            rows.append(doc)
            boi.append(len(doc) - IMAGE_LEN - 3)
            prompt_len.append(len(head))
            direction.append(T2I)
    tokens = pad_rows(rows, v.PAD)
    no_loss = torch.arange(tokens.shape[1])[None] < torch.tensor(prompt_len)[:, None]
    return Documents(tokens, torch.tensor(direction), torch.tensor(boi), IMAGE_LEN, no_loss)


def train_multi(cfg, split: ComboSplit, variant: str, p_single: float = 0.3):
    """A Chameleon-mode model on the mixture of one variant, by the one loop: (model, state)."""
    from generative.unified.train import fit_documents

    v = Vocab()

    def sample(g, batch):
        return corpus(
            v, split, variant, batch, p_single, int(torch.randint(2**31 - 1, (1,), generator=g))
        )

    return fit_documents(cfg, v, MAX_LEN, sample)


# region: scoring
def parse(v: Vocab, row: list[int], prompt_len: int) -> tuple[list[int] | None, tuple]:
    """(the drawn span's ids or None, the trace's (shape, colour), -1 where unreadable) of one
    written row; the drawing is the first complete span after the prompt's last BOI."""
    start = max(i for i, t in enumerate(row[:prompt_len]) if t == v.BOI) + 1
    if row[prompt_len - 1] != v.BOI:  # THINK: the model wrote a trace, then (maybe) BOI
        start = row.index(v.BOI, prompt_len) + 1 if v.BOI in row[prompt_len:] else len(row)
    span = row[start : start + IMAGE_LEN]
    ok = len(span) == IMAGE_LEN and all(v.image_offset <= t < v.size for t in span)
    words = [v.text[t] for t in row[prompt_len:] if t < v.image_offset]
    words = words[: words.index("ENDTHINK")] if "ENDTHINK" in words else []
    shape = S.SHAPES.index(words[0]) if len(words) == 2 and words[0] in S.SHAPES else -1
    colour = S.COLOURS.index(words[1]) if len(words) == 2 and words[1] in S.COLOURS else -1
    return (span if ok else None), (shape, colour)


def score_drawings(images: np.ndarray, tasks: Tasks, traces: np.ndarray | None = None) -> dict:
    """Exact scores of drawings (N, 16, 16, 3) for the tasks: valid scene; correct (valid with
    the answer's shape and colour); in_place (correct and at the source's position); per
    instruction; with traces (N, 2) (shape, colour; -1 unreadable): trace_correct and
    follows_trace (valid and showing the trace's attributes, over readable traces)."""
    res, a = check(images), tasks.answer
    shape_ok, colour_ok = (res.attributes[k] == a[k] for k in ("shape", "colour"))
    correct = res.valid & shape_ok & colour_ok
    where = np.all([res.attributes[k] == a[k] for k in KEYS[2:]], axis=0)
    out = {
        "n": len(tasks),
        "valid": float(res.valid.mean()),
        "correct": float(correct.mean()),
        "shape_right": float((res.valid & shape_ok).mean()),
        "colour_right": float((res.valid & colour_ok).mean()),
        "in_place": float((correct & where).mean()),
        "by_instruction": [float(correct[tasks.instruction == i].mean()) for i in range(2)],
    }
    if traces is not None:
        readable = (traces >= 0).all(1)
        shown = np.stack([res.attributes["shape"], res.attributes["colour"]], 1)
        follows = res.valid & (shown == traces).all(1)
        out["trace_correct"] = float(
            (traces == np.stack([a["shape"], a["colour"]], 1)).all(1).mean()
        )
        out["trace_readable"] = float(readable.mean())
        out["follows_trace"] = float(follows[readable].mean()) if readable.any() else 0.0
    return out


@torch.no_grad()
def score_model(model, v: Vocab, tasks: Tasks, variant: str, batch: int = 64) -> dict:
    """(scores, drawn images) of greedy answers to the tasks' prompts, scored exactly (an
    unfinished span becomes a blank image, which is never a valid scene)."""
    prompts = [composition_prompt(v, h, variant) for h in task_heads(v, tasks)]
    codes = torch.zeros(len(prompts), IMAGE_LEN, dtype=torch.long)
    traces = np.full((len(prompts), 2), -1)
    for i in range(0, len(prompts), batch):
        part = prompts[i : i + batch]
        gen = generate(model, v, part, IMAGE_LEN, MAX_LEN, temperature=0.0)
        for j, p in enumerate(part):
            span, traces[i + j] = parse(v, gen.tokens[j].tolist(), len(p))
            if span is not None:
                codes[i + j] = torch.tensor(span) - v.image_offset
    images = PatchTokenizer().decode(codes)
    out = score_drawings(images, tasks, traces if variant == "think" else None)
    return out, images


# endregion
