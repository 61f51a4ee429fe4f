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
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out (--steps, --lr, --ckpt-every, --threads may change)",
    )
    p.add_argument("--dry-run", action="store_true", help="check every flag, train nothing")
    flags, _ = add_flags(p, [TokenizerConfig], lambda owners: "tokenizer")
    p.set_defaults(func=cmd_tokenize, flags=flags)


def cmd_tokenize(a):
    from generative.discrete.tokenizers.train_tokenizer import (
        reconstruction_figure,
        train_tokenizer,
    )

    cfg, explicit = (
        _resumed(a)
        if a.resume
        else (build(TokenizerConfig, given(a, a.flags), a.flags, "tokenize"), None)
    )
    cfg = resolved(cfg)
    out = writable_folder(a.out or f"runs/tok-{cfg.quantizer}-{cfg.data}-s{cfg.seed}", "--out")
    if (out / "state.json").exists() and not a.resume:
        raise UserError(
            f"{out} already holds a run; pass --resume to continue it, or another --out"
        )
    if a.dry_run:
        return print(json.dumps({"out": str(out), **dataclasses.asdict(cfg)}))
    run = train_tokenizer(cfg, out, resume=a.resume, explicit=explicit)
    reconstruction_figure(run, out / "recon.png")
    s = run.stats
    print(
        f"{cfg.quantizer}, K = {cfg.num_codes}, {cfg.grid**2} tokens per image: held-out usage "
        f"{100 * s['usage']:.1f}%, perplexity {s['perplexity']:.1f}, reconstruction MSE "
        f"{s['recon_mse']:.4f} ({run.state['wall_s']:.0f}s) -> {out} (recon.png)"
    )


def _resumed(a) -> tuple[TokenizerConfig, set]:
    """The run's own config with the flags that may change on resume (others refused), and the
    fields the flags gave."""
    from generative.checkpoint import resume_config
    from generative.discrete.tokenizers.train_tokenizer import RESUMABLE, saved_config

    if not a.out:
        raise UserError("--resume needs --out RUN_DIR (the tokenizer run to continue)")
    values = given(a, a.flags)
    saved = saved_config(a.out)
    cfg = build(TokenizerConfig, values, a.flags, f"the run in {a.out}", base=saved)
    explicit = {a.flags[n].fields[TokenizerConfig].name for n in values}
    return resume_config(saved, cfg, RESUMABLE, explicit)[0], explicit
