"""Sampling a Part A run (points or images) from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generative.errors import UserError


def _labels(run, opts):
    """The class of every sample (or None), checked against the run."""
    import torch

    if opts.label is not None and opts.each_class:
        raise UserError("--label and --each-class: choose one")
    if (opts.label is not None or opts.each_class) and not run.num_classes:
        flag = "--label" if opts.label is not None else "--each-class"
        raise UserError(f"{flag} needs a run trained with --cond; this one is unconditional")
    if opts.label is not None:
        if opts.label >= run.num_classes:
            raise UserError(
                f"--label {opts.label} out of range: this run has classes 0..{run.num_classes - 1}"
            )
        return torch.full((opts.n,), opts.label, dtype=torch.long)
    if opts.each_class:
        return torch.arange(opts.n) % run.num_classes
    return None


def _check(run, opts, out: Path, plot):
    if out.suffix not in (".npy", ".csv"):
        raise UserError(f"--out {out}: use a .npy or .csv file name")
    if len(run.shape) == 3 and out.suffix != ".npy":
        raise UserError(f"--out {out}: image samples are written as .npy (N, C, H, W)")
    if opts.guidance != 1.0:
        if not run.num_classes:
            raise UserError(
                f"--guidance {opts.guidance:g}: guidance needs a run trained with --cond; "
                "this one is unconditional (drop --guidance)"
            )
        if opts.label is None and not opts.each_class:
            raise UserError(
                f"--guidance {opts.guidance:g} steers toward a label: add --label K or --each-class"
            )
    if plot and len(run.shape) == 1 and run.shape[0] != 2:
        raise UserError(
            f"--plot draws 2-D points or images; this run's points have {run.shape[0]} "
            "dimensions (plot the saved samples yourself, or drop --plot)"
        )


def sample_points(run_dir, opts, out: Path, plot, dry_run: bool = False):
    import torch

    from generative.continuous.sampling import sample
    from generative.continuous.train_denoiser import load_run
    from generative.distributed import resolve_device

    run = load_run(run_dir)
    y = _labels(run, opts)
    _check(run, opts, out, plot)
    device = resolve_device(opts.device)
    if dry_run:
        return print(f"would draw {opts.n} samples from {run_dir} on {device} -> {out}")
    net = run.net.to(device)
    with torch.device(device):
        res = sample(
            run.method, net, run.shape, opts.n, opts.sampler, opts.steps,
            None if y is None else y.to(device), opts.guidance, opts.seed,
            eta=opts.eta, clip_x0=opts.clip_x0, variance=opts.variance,
        )  # fmt: skip
    z = res.x.cpu().numpy()
    if not np.isfinite(z).all():
        bad = int((~np.isfinite(z)).reshape(len(z), -1).any(axis=1).sum())
        raise UserError(
            f"{bad} of {opts.n} samples are NaN or inf (the run diverged, or the sampler ran "
            "away: try another --sampler, or more --steps); nothing was written"
        )
    x = run.standardizer.decode(z)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, x)
    else:
        np.savetxt(out, x, delimiter=",", fmt="%.6f")
    guided = y is not None and opts.guidance != 1.0
    nfe = res.nfe * (2 if guided else 1)  # guidance evaluates the net with and without y
    cost = f"{nfe} NFE" + (f" ({res.nfe} x 2: guidance's two passes)" if guided else "")
    print(f"{opts.n} samples, {cost} -> {out}")
    if plot:
        Path(plot).parent.mkdir(parents=True, exist_ok=True)
        title = f"{run_dir} ({nfe} NFE)"
        if len(run.shape) == 3:
            from generative.continuous.plots import image_grid

            ncols = run.num_classes if opts.each_class else 10
            image_grid(x, plot, None if y is None else y.tolist(), ncols, title)
            print(f"image grid -> {plot}")
        else:
            from generative.continuous.plots import grid_figure

            grid_figure([{"samples": z, "title": title}], plot, ncols=1)
            print(f"plot -> {plot}")
