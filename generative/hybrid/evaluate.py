"""Sampling a trained two-tower pipeline and scoring it on swap-pair captions.

The masked generator is decoded by the same MaskGIT decoders as Part B (they take
tokens_to_logits and a mask id, never the model); the latent flow by an ODE solver
(latent_flow.sample_latent). Either way the caption is encoded once, and guidance wraps the
network.
"""

from __future__ import annotations

import functools
import itertools
import time

import numpy as np
import torch

from generative.discrete.data import shapes as S
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.discrete.decoders import CHOICE_TEMPERATURE, DECODERS, decode_adaptive
from generative.discrete.objectives.maskgit import decode
from generative.discrete.oracle import Oracle
from generative.errors import UserError, unknown_choice
from generative.hybrid.captions import Captions, swap_pairs
from generative.hybrid.generator import guided_logits
from generative.hybrid.latent_flow import LatentHybrid, sample_latent
from generative.hybrid.score import score


def decode_images(
    tokens_to_logits, n: int, decoder="fixed", steps=16, entropy_budget=2.0, seed=0, tok=None
):
    """uint8 images (n, 16, 16, 3) decoded from a fully masked canvas, and the calls made;
    tok: the image tokenizer (PatchTokenizer unless given, or a HalfTokenizer)."""
    if decoder not in DECODERS:
        raise unknown_choice("decoder", decoder, DECODERS)
    tok = tok or PatchTokenizer()
    mask_id = tok.vocab_size
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, tok.seq_len), mask_id, dtype=torch.long)
    if decoder == "fixed":
        out = decode(x, tokens_to_logits, mask_id, steps, "cosine", 1.0, CHOICE_TEMPERATURE, g)
    else:
        out = decode_adaptive(x, tokens_to_logits, mask_id, entropy_budget, 1.0, g)
    return tok.decode(out.tokens), out.nfe


@torch.no_grad()
def sample(model, caps: Captions, guidance: float = 1.0, **decoding) -> tuple[np.ndarray, int]:
    """uint8 images (B, 16, 16, 3) for the captions, and the network calls made (two per
    round under guidance: conditional and unconditional, batched). decoding: decoder, steps,
    entropy_budget, seed for the masked generator; steps, solver, seed for the latent flow."""
    if isinstance(model, LatentHybrid):
        return sample_latent(model, caps, guidance, **decoding)
    if decoding.pop("solver", "heun") != "heun":
        raise UserError("--solver is the latent flow's; a masked run takes --decoder")
    gen = model.generator
    feats = model.encoder(caps)  # encoded once

    def tokens_to_logits(tokens):
        return guided_logits(gen, tokens, feats, guidance)

    images, nfe = decode_images(tokens_to_logits, len(caps), tok=model.tokenizer, **decoding)
    return images, nfe * (1 if guidance == 1.0 else 2)


# region: caption-oracle
def caption_oracle(caps: Captions, tok=None) -> Oracle:
    """The exact posterior of the scenes a caption admits (its shapes and colours, rows by the
    relation, every jitter; uniform, as in the data), keyed by the caption's five slots: a
    perfect generator with the oracle encoder. Decoding it bounds what any trained generator
    reaches with the same decoder. tok: the scenes' tokenizer (PatchTokenizer unless given)."""
    tok = tok or PatchTokenizer()
    uniq = torch.unique(caps.attrs, dim=0)
    scenes, cond = [], []
    for a in uniq.tolist():
        rows = {0: [(0, 1)], 1: [(1, 0)], 2: [(0, 0), (1, 1)]}[a[4]]
        for r in rows:
            lab = np.array(list(itertools.product(range(S.JITTER), repeat=4)))  # (256, 4)
            n = len(lab)
            img = S.render(
                np.tile([a[0], a[2]], (n, 1)), np.tile([a[1], a[3]], (n, 1)),
                np.tile([2 * r[0], 2 * r[1] + 1], (n, 1)), lab[:, :2], lab[:, 2:],
            )  # fmt: skip
            scenes.append(tok.encode(img))
            cond.append(torch.tensor(a).expand(n, -1))
    scenes, cond = torch.cat(scenes), torch.cat(cond)
    _, caption, count = torch.unique(cond, dim=0, return_inverse=True, return_counts=True)
    prob = 1.0 / count[caption].double()  # uniform over each caption's scenes
    return Oracle(scenes, prob, tok.vocab_size, tok.vocab_size, cond, null_id=-1)


def oracle_bound(caps: Captions, chunk: int = 20, tok=None, **decoding) -> dict:
    """Scores of the exact posterior decoded like the generator: the decoder's ceiling.
    Captions go chunk at a time (each caption's scenes are one-hot cached by the oracle);
    tok: the tokens the posterior is over (PatchTokenizer unless given, or a HalfTokenizer)."""
    images, seed = [], decoding.pop("seed", 0)
    for i in range(0, len(caps), chunk):
        part = caps.take(torch.arange(i, min(i + chunk, len(caps))))
        oracle = caption_oracle(part, tok)
        posterior = functools.partial(oracle, cond=part.attrs)
        images.append(decode_images(posterior, len(part), seed=seed + i, tok=tok, **decoding)[0])
    return score(np.concatenate(images), caps.attrs.numpy(), pairs=True)


# endregion


def evaluate(model, n_pairs: int = 100, seed: int = 0, **sampling) -> dict:
    """Scores on n_pairs swap pairs (see score.py), the calls per image and wall time per 1000
    samples (one thread)."""
    caps = swap_pairs(n_pairs, seed=10_000 + seed)  # test captions, apart from training seeds
    t0 = time.perf_counter()
    images, calls = sample(model, caps, seed=seed, **sampling)
    wall = time.perf_counter() - t0
    out = score(images, caps.attrs.numpy(), pairs=True)
    out.update(calls=calls, s_per_1000=1000 * wall / len(caps))
    return out
