"""Sampling a token run (maskgit, ar, mdlm, d3pm) from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from generative.cli.paths import distinct, writable_file
from generative.errors import UserError


def _condition(run, opts):
    """Checks the condition flags against the run now; returns a function giving (cond ids or
    None, the class of every sample or None)."""
    import torch

    from generative.discrete.generate import parse_caption

    classes, n = run.data.num_classes, opts.n
    if opts.label is not None:
        if run.data.cond_kind != "class":
            raise UserError("--label needs a run trained with --cond")
        if opts.label >= classes:
            raise UserError(f"--label {opts.label}: this run has classes 0..{classes - 1}")
        return lambda: (
            torch.full((n, 1), opts.label, dtype=torch.long),
            run.data._class_labels(np.full(n, opts.label)),
        )
    if opts.caption_text:
        if run.data.cond_kind != "caption":
            raise UserError("--caption-text needs a run trained with --caption")
        parse_caption(opts.caption_text, 1)  # a bad caption is refused before any work
        return lambda: (parse_caption(opts.caption_text, n), None)
    if run.data.cond_kind != "none":  # balanced over classes, or fresh captions
        return lambda: run.data.prompts(n, opts.seed)
    return lambda: (None, None)


def trace_png(trace) -> Path:
    """Where the figure of a trace goes: beside its JSON, never over another output."""
    return Path(trace).with_suffix(".rounds.png")


def sample_tokens(run_dir, opts, out: Path, plot, dry_run: bool = False):
    from generative.discrete.generate import SAMPLERS, generate, score_samples
    from generative.discrete.token_plots import sample_grid, trace_figure
    from generative.discrete.train_tokens import load_discrete_run

    if out.suffix not in (".png", ".npy"):
        raise UserError(f"--out {out}: use FILE.png (grid + tokens .npy beside) or FILE.npy")
    if out.suffix == ".png" and plot:
        raise UserError(f"--out {out} already writes the grid; drop --plot (or use --out X.npy)")
    png = out if out.suffix == ".png" else (Path(plot) if plot else None)
    npy = out.with_suffix(".npy")
    trace = opts.trace and writable_file(opts.trace, "--trace")
    outs = {"--out (tokens)": npy, "--out/--plot (grid)": png, "--trace": trace}
    distinct({**outs, "--trace (figure)": trace and trace_png(trace)})
    if trace and trace.suffix != ".json":
        raise UserError(f"--trace {trace}: give a .json file name")
    run = load_discrete_run(run_dir, data=False)
    if trace and (opts.sampler or SAMPLERS[run.cfg.method][0]) != "maskgit":
        raise UserError(
            "--trace records MaskGIT's decoding rounds: use a maskgit run, or --sampler maskgit "
            "on an mdlm run"
        )
    condition = _condition(run, opts)
    if dry_run:
        return print(f"would draw {opts.n} token samples from {run_dir} -> {npy}")
    cond, labels = condition()
    s = generate(
        run, opts.n, opts.steps, cond, opts.sampler, opts.mask_schedule, opts.temperature,
        opts.choice_temperature, opts.kv_cache, opts.seed, decoder=opts.decoder,
        corrector=opts.corrector, corrector_k=opts.corrector_k,
        entropy_budget=opts.entropy_budget, oracle=opts.oracle,
    )  # fmt: skip
    res = score_samples(run, s, labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(npy, s.tokens.numpy())
    nfe = f"{s.nfe} NFE"
    if s.nfe_mean not in (None, s.nfe):  # adaptive rows finish at different rounds
        nfe = f"{s.nfe_mean:.1f} NFE (mean; max {s.nfe})"
    line = f"{opts.n} samples, {nfe}, {s.wall_s:.1f}s: valid {100 * res['validity']:.1f}%"
    if "cond_accuracy" in res:
        line += f", conditional accuracy {100 * res['cond_accuracy']:.1f}%"
    print(line + f" -> {npy}")
    if png:
        png.parent.mkdir(parents=True, exist_ok=True)
        valid = run.data.score(s.tokens[:64])["valid"]
        sample_grid(run.data.decode(s.tokens[:64]), valid, png, f"{run_dir}: {line}")
        print(f"grid -> {png}")
    if trace:
        from generative.discrete.objectives.maskgit import trace_json

        trace.parent.mkdir(parents=True, exist_ok=True)
        trace.write_text(json.dumps(trace_json(s.trace, run.net.cfg.mask_id)))
        trace_figure(run.data, s.trace, run.net.cfg.mask_id, trace_png(trace))
        print(f"trace -> {trace} (+ {trace_png(trace).name})")
