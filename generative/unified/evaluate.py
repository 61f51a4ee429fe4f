"""Scoring the unified transformer with the exact `shapes` checker, both directions.

text -> image: the prompt `BOS caption BOI`; the written span is decoded by the exact patch
tokenizer and looked up among every clean scene: valid (a clean scene, pixel for pixel) and
caption agreement (valid and showing the shape, colour and quadrant, or for two objects both
objects' shape and colour and their rows, that the caption names).
image -> text: the prompt `BOS BOI image EOI`, greedy decoding; exact-caption accuracy (the
written words equal the scene's caption).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from generative.discrete.data.checker import check
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.discrete.data.shapes import ShapesData
from generative.unified.decode import generate, image_spans, texts_after_image
from generative.unified.documents import prompts_i2t, prompts_t2i
from generative.unified.showo import showo_generate
from generative.unified.vocab import Vocab


def caption_agreement(images, labels: dict, two_objects: bool) -> tuple[np.ndarray, np.ndarray]:
    """(valid, agrees) per image: the exact checker against the captioned attributes."""
    res = check(images, two_objects)
    if not two_objects:
        return res.valid, res.matches(labels)
    ok = res.matches(labels, keys=("shape", "colour"))
    rows = [np.asarray(q) // 2 for q in (res.attributes["quadrant"], labels["quadrant"])]
    same = lambda r: np.sign(r[:, 0] - r[:, 1])  # noqa: E731  (the caption's relation)
    return res.valid, ok & (same(rows[0]) == same(rows[1]))


@torch.no_grad()
def draw_images(
    model,
    v: Vocab,
    captions: list[str],
    mode: str = "chameleon",
    guidance: float = 1.0,
    temperature: float = 1.0,
    steps: int = 8,
    seed: int = 0,
    batch: int = 100,
) -> tuple[np.ndarray, torch.Tensor, int]:
    """uint8 images (N, 16, 16, 3) written for the captions, span_ok (N,) (did the grammar
    close a 64-token span) and the network calls made."""
    g = torch.Generator().manual_seed(seed)
    codes, spans_ok, nfe = [], [], 0
    for i in range(0, len(captions), batch):
        prompts = prompts_t2i(v, captions[i : i + batch])
        if mode == "chameleon":
            gen = generate(
                model,
                v,
                prompts,
                64,
                model.cfg.max_len,
                temperature=temperature,
                guidance=guidance,
                generator=g,
            )
            c, ok = image_spans(gen, v, 64)
            nfe += gen.nfe
        else:
            c, calls = showo_generate(
                model,
                v,
                prompts,
                64,
                steps=steps,
                guidance=guidance,
                temperature=temperature,
                generator=g,
            )
            ok, nfe = torch.ones(len(c), dtype=torch.bool), nfe + calls
        codes.append(c)
        spans_ok.append(ok)
    return PatchTokenizer().decode(torch.cat(codes)), torch.cat(spans_ok), nfe


def score_t2i(model, v: Vocab, scenes: ShapesData, two_objects=False, **drawing) -> dict:
    """Validity and caption agreement of images drawn from the scenes' captions (drawing:
    draw_images' keyword arguments)."""
    t0 = time.perf_counter()
    images, spans_ok, nfe = draw_images(model, v, scenes.captions, **drawing)
    valid, agree = caption_agreement(images, scenes.labels, two_objects)
    return {
        "n": len(scenes),
        "span_ok": float(spans_ok.float().mean()),
        "valid": float(valid.mean()),
        "caption_agreement": float(agree.mean()),
        "nfe": nfe,
        "wall_s": time.perf_counter() - t0,
    }


@torch.no_grad()
def write_captions(model, v: Vocab, codes, mode: str = "chameleon", batch: int = 100):
    """(greedy captions of image codes (N, 64), network calls): the prompt `BOS BOI image EOI`;
    Show-o reads the image with full attention."""
    net = model if mode == "chameleon" else _ShowoReader(model, v)
    written, nfe = [], 0
    for i in range(0, len(codes), batch):
        prompts = prompts_i2t(v, codes[i : i + batch])
        gen = generate(net, v, prompts, 64, model.cfg.max_len, temperature=0.0)  # longest doc
        written += texts_after_image(gen, v)
        nfe += gen.nfe
    return written, nfe


def score_i2t(
    model, v: Vocab, scenes: ShapesData, mode: str = "chameleon", batch: int = 100
) -> dict:
    """Exact-caption accuracy of greedy captions."""
    codes = PatchTokenizer().encode(scenes.images)
    t0 = time.perf_counter()
    written, _ = write_captions(model, v, codes, mode, batch)
    exact = np.array([w == c for w, c in zip(written, scenes.captions, strict=True)])
    return {
        "n": len(scenes),
        "exact_caption": float(exact.mean()),
        "wall_s": time.perf_counter() - t0,
        "examples": written[:3],
    }


class _ShowoReader(torch.nn.Module):
    """The Show-o model on an image -> text prompt: full attention inside the first image span."""

    def __init__(self, model, v: Vocab):
        super().__init__()
        self.model, self.v = model, v

    def forward(self, tokens):
        pos = torch.arange(tokens.shape[1])[None]
        start = (tokens == self.v.BOI).float().argmax(1, keepdim=True) + 1  # (B, 1)
        return self.model(tokens, (pos >= start) & (pos < start + 64))
