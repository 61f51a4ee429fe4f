"""`generative tokenize`: train a learned image tokenizer (VQ, EMA-VQ, FSQ); its flags are
generated from TokenizerConfig."""

from __future__ import annotations

import dataclasses
import json

from generative.cli.flags import add_flags, build, given
from generative.cli.paths import writable_folder
from generative.discrete.tokenizers.train_tokenizer import TokenizerConfig, resolved
from generative.errors import UserError


def add(sub):
    p = sub.add_parser(
        "tokenize",
        help="train a learned image tokenizer (VQ, EMA-VQ, FSQ)",
        description="Train a small conv autoencoder that turns 16x16 images into a grid of "
        "tokens. Writes a run folder (config.json, checkpoint, recon.png) and prints held-out "
        "codebook usage, perplexity and reconstruction MSE.",
    )
    p.add_argument("--out", help="run folder (default: runs/tok-QUANTIZER-DATA-sSEED)")
    p.add_argument("--dry-run", action="store_true", help="check every flag, train nothing")
    flags, _ = add_flags(p, [TokenizerConfig], lambda owners: "tokenizer")
    p.set_defaults(func=cmd_tokenize, flags=flags)


def cmd_tokenize(a):
    from generative.discrete.tokenizers.train_tokenizer import (
        reconstruction_figure,
        train_tokenizer,
    )

    cfg = resolved(build(TokenizerConfig, given(a, a.flags), a.flags, "tokenize"))
    out = writable_folder(a.out or f"runs/tok-{cfg.quantizer}-{cfg.data}-s{cfg.seed}", "--out")
    if (out / "state.json").exists():
        raise UserError(f"{out} already holds a run; choose another --out")
    if a.dry_run:
        return print(json.dumps({"out": str(out), **dataclasses.asdict(cfg)}))
    run = train_tokenizer(cfg, out)
    reconstruction_figure(run, out / "recon.png")
    s = run.stats
    print(
        f"{cfg.quantizer}, K = {cfg.num_codes}, {cfg.grid**2} tokens per image: held-out usage "
        f"{100 * s['usage']:.1f}%, perplexity {s['perplexity']:.1f}, reconstruction MSE "
        f"{s['recon_mse']:.4f} ({run.state['wall_s']:.0f}s) -> {out} (recon.png)"
    )
