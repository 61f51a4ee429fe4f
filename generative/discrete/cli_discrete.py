"""The discrete half of `generative train` and `generative sample`: the extra flags and the
commands for token runs (maskgit, ar, mdlm, d3pm). cli.py hands over to these."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from generative.errors import UserError

DISCRETE_METHODS = ("maskgit", "ar", "mdlm", "d3pm")


def is_discrete_run(run_dir) -> bool:
    """Whether a run folder holds a token generator (its config says kind: discrete)."""
    try:
        return json.loads((Path(run_dir) / "config.json").read_text()).get("kind") == "discrete"
    except (OSError, ValueError, AttributeError):
        return False  # the continuous loader gives the precise error


def add_train_args(p):
    g = p.add_argument_group("token generators (--method maskgit|ar|mdlm|d3pm)")
    g.add_argument("--caption", action="store_true", help="condition on captions (shapes)")
    g.add_argument("--hidden", type=int, default=96, help="transformer width")
    g.add_argument("--heads", type=int, default=4, help="attention heads")
    g.add_argument(
        "--mask-schedule", default="cosine", help="MaskGIT training schedule (cosine, linear, ...)"
    )
    g.add_argument("--kernel", default="absorbing", help="D3PM: absorbing, uniform, structured")
    g.add_argument("--d3pm-T", type=int, default=100, help="D3PM chain length")
    g.add_argument(
        "--snapshot-every", type=int, default=0, help="keep EMA weights every N steps (0: off)"
    )


def cmd_train(a):
    from generative.discrete.train_tokens import DiscreteConfig, train_discrete

    data = "shapes" if a.data == "moons" else a.data  # moons is Part A's default
    cond = "caption" if a.caption else "class" if a.cond else "none"
    out = a.out or f"runs/{a.method}-{data}-{cond}-s{a.seed}"
    cfg = DiscreteConfig(
        method=a.method,
        data=data,
        cond=cond,
        steps=a.steps or DiscreteConfig.steps,
        batch_size=a.batch_size or DiscreteConfig.batch_size,
        lr=a.lr or DiscreteConfig.lr,
        seed=a.seed,
        p_uncond=a.p_uncond,
        n_train=max(a.n_train, 1000),  # scenes drawn (shapes has 1024 distinct ones)
        hidden=a.hidden,
        depth=a.depth,
        heads=a.heads,
        schedule=a.mask_schedule,
        kernel=a.kernel,
        T=a.d3pm_T,
        threads=a.threads,
        ckpt_every=a.ckpt_every,
        snapshot_every=a.snapshot_every,
    )
    run = train_discrete(cfg, out, resume=a.resume)
    print(
        f"trained {run.state['step']} steps in {run.state['wall_s']:.1f}s "
        f"({run.net.num_params() / 1e6:.2f}M parameters) -> {out}"
    )
    if not a.no_eval:
        from generative.discrete.generate import bits_per_token

        kind = "exact" if a.method == "ar" else "bound"
        bpt = bits_per_token(run, n=200, passes=2)
        print(f"held-out: {bpt:.3f} bits per token ({kind}, 200 sequences)")
    print(f"sample with: generative sample {out} --n 64 --steps 8 --out samples.png")


def add_sample_args(p):
    g = p.add_argument_group("token runs (maskgit, ar, mdlm, d3pm)")
    g.add_argument("--caption-text", help="caption to sample (caption runs), 7 words")
    g.add_argument("--mask-schedule", default="cosine", help="MaskGIT decoding schedule")
    g.add_argument("--temperature", type=float, default=1.0, help="token sampling temperature")
    g.add_argument(
        "--choice-temperature",
        type=float,
        default=4.5,
        help="MaskGIT: Gumbel noise on the confidence, annealed to 0 (0: pure confidence)",
    )
    g.add_argument("--no-kv-cache", action="store_true", help="AR: recompute every prefix")
    g.add_argument("--trace", help="MaskGIT: write the unmasking rounds to this JSON (+ .png)")


def cmd_sample(a):
    import torch

    from generative.discrete.generate import generate, parse_caption, score_samples
    from generative.discrete.token_plots import sample_grid, trace_figure
    from generative.discrete.train_tokens import load_discrete_run

    out = Path(a.out)
    if out.suffix not in (".png", ".npy"):
        raise UserError(f"--out {out}: use FILE.png (grid + tokens .npy beside) or FILE.npy")
    run = load_discrete_run(a.run_dir, data=False)
    cond, labels = None, None
    if a.label is not None:
        if not run.data.num_classes:
            raise UserError("--label needs a run trained with --cond")
        if not 0 <= a.label < run.data.num_classes:
            raise UserError(
                f"--label {a.label}: this run has classes 0..{run.data.num_classes - 1}"
            )
        cond = torch.full((a.n, 1), a.label, dtype=torch.long)
        labels = run.data._class_labels(np.full(a.n, a.label))
    elif a.caption_text:
        if run.data.cond_kind != "caption":
            raise UserError("--caption-text needs a run trained with --caption")
        cond = parse_caption(a.caption_text, a.n)
    elif run.data.cond_kind != "none":  # balanced over classes, or fresh captions
        cond, labels = run.data.prompts(a.n, a.seed)
    s = generate(
        run,
        a.n,
        a.steps,
        cond,
        a.sampler,
        a.mask_schedule,
        a.temperature,
        a.choice_temperature,
        not a.no_kv_cache,
        a.seed,
    )
    res = score_samples(run, s, labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    npy = out.with_suffix(".npy")
    np.save(npy, s.tokens.numpy())
    line = f"{a.n} samples, {s.nfe} NFE, {s.wall_s:.1f}s: valid {100 * res['validity']:.1f}%"
    if "cond_accuracy" in res:
        line += f", conditional accuracy {100 * res['cond_accuracy']:.1f}%"
    print(line + f" -> {npy}")
    if out.suffix == ".png" or a.plot:
        png = out if out.suffix == ".png" else Path(a.plot)
        valid = run.data.score(s.tokens[:64])["valid"]
        sample_grid(run.data.decode(s.tokens[:64]), valid, png, f"{a.run_dir}: {line}")
        print(f"grid -> {png}")
    if a.trace:
        if s.trace is None:
            raise UserError("--trace needs MaskGIT decoding (a maskgit or mdlm run)")
        from generative.discrete.objectives.maskgit import trace_json

        Path(a.trace).write_text(json.dumps(trace_json(s.trace, run.net.cfg.mask_id)))
        trace_figure(run.data, s.trace, run.net.cfg.mask_id, Path(a.trace).with_suffix(".png"))
        print(f"trace -> {a.trace} (+ .png)")
