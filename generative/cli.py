"""The `generative` command: train | sample | evaluate | demo | tokenize. Run any with --help."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from generative.discrete import cli_discrete as discrete
from generative.discrete.cli_discrete import DISCRETE_METHODS, is_discrete_run
from generative.errors import UserError


def positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}' is not an integer") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {v}")
    return v


def add_train(sub):
    from generative.continuous.train_denoiser import (
        DEFAULT_LR,
        DEFAULT_STEPS,
        METHODS,
        MODELS,
        TrainConfig,
    )

    d = TrainConfig()
    p = sub.add_parser(
        "train",
        help="train a denoiser",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train DDPM or flow matching with an MLP or a DiT on 2D points or images. "
        "Writes a run folder (config.json, state.json, checkpoint-*.safetensors). "
        "Several processes: torchrun --nproc_per_node=N -m generative.cli train ...",
    )
    p.add_argument(
        "--method", default=d.method, choices=METHODS + DISCRETE_METHODS, help="objective"
    )
    p.add_argument("--model", default=d.model, choices=MODELS, help="denoiser network")
    p.add_argument(
        "--data",
        default=d.data,
        help="moons, 8gaussians, checkerboard, spirals, rings, or a .csv/.npy file of N x D "
        "points; images: digits (8x8), mnist5k (28x28), or a folder of PNGs (class subfolders)",
    )
    p.add_argument("--steps", type=positive_int, help=f"optimizer steps (default {DEFAULT_STEPS})")
    p.add_argument("--lr", type=float, help=f"peak learning rate (default {DEFAULT_LR})")
    p.add_argument(
        "--batch-size", type=positive_int, help=f"(default {d.batch_size}; token models 128)"
    )
    p.add_argument("--ema-decay", type=float, default=d.ema_decay)
    p.add_argument("--seed", type=int, default=d.seed, help="seeds the data draw, init and batches")
    p.add_argument("--out", help="run folder (default runs/METHOD-MODEL-DATA-sSEED)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--cond", action="store_true", help="class-conditional on the data's labels")
    p.add_argument(
        "--p-uncond", type=float, default=d.p_uncond, help="label dropout (for guidance)"
    )
    p.add_argument(
        "--no-standardize",
        dest="standardize",
        action="store_false",
        help="train on raw coordinates (gotcha #1: prior and data then disagree in scale)",
    )
    p.add_argument(
        "--n-train", type=positive_int, default=d.n_train, help="points drawn for a toy set"
    )
    p.add_argument("--noise", type=float, help="toy-set noise (moons default 0.03)")
    p.add_argument(
        "--schedule", default=d.schedule, choices=("linear", "cosine"), help="DDPM betas"
    )
    p.add_argument("--T", type=positive_int, default=d.T, help="DDPM chain length")
    p.add_argument("--target", default=d.target, choices=("eps", "x0", "v"), help="DDPM target")
    p.add_argument("--path", default=d.path, choices=("linear", "vp"), help="FM probability path")
    p.add_argument(
        "--t-scale", type=float, default=d.t_scale, help="time multiplier before the sinusoid"
    )
    p.add_argument("--width", type=positive_int, default=d.width, help="MLP width")
    p.add_argument("--depth", type=positive_int, default=d.depth, help="MLP residual blocks")
    p.add_argument("--dit-size", default=d.dit_size, help="DiT preset: DiT-T, DiT-XS, DiT-S")
    p.add_argument(
        "--patch",
        type=positive_int,
        default=d.patch,
        help="DiT patch (numbers per token for points)",
    )
    p.add_argument(
        "--conditioning",
        default=d.conditioning,
        choices=("adaln_zero", "adaln", "in_context"),
        help="how the DiT takes t and y (lesson 08's ablation)",
    )
    p.add_argument(
        "--device", default=d.device, choices=("auto", "cpu", "cuda", "mps"), help="hardware"
    )
    p.add_argument("--amp", action="store_true", help="bf16 mixed precision (CUDA only)")
    p.add_argument("--threads", type=positive_int, default=d.threads, help="torch CPU threads")
    p.add_argument("--ckpt-every", type=positive_int, default=d.ckpt_every)
    p.add_argument(
        "--no-eval", action="store_true", help="skip the quick evaluation after training"
    )
    discrete.add_train_args(p)
    p.set_defaults(func=cmd_train)


def cmd_train(a):
    from generative.continuous.train_denoiser import TrainConfig, train

    if a.resume and not a.out:
        raise UserError("--resume needs --out RUN_DIR (the run to continue)")
    if a.method in DISCRETE_METHODS:
        return discrete.cmd_train(a)
    out = a.out or f"runs/{a.method}-{a.model}-{Path(a.data).stem}-s{a.seed}"
    cfg = TrainConfig(
        method=a.method,
        model=a.model,
        data=a.data,
        steps=a.steps or 0,
        lr=a.lr or 0.0,
        batch_size=a.batch_size or TrainConfig.batch_size,
        ema_decay=a.ema_decay,
        seed=a.seed,
        cond=a.cond,
        p_uncond=a.p_uncond,
        standardize=a.standardize,
        n_train=a.n_train,
        noise=a.noise,
        schedule=a.schedule,
        T=a.T,
        target=a.target,
        path=a.path,
        t_scale=a.t_scale,
        width=a.width,
        depth=a.depth,
        dit_size=a.dit_size,
        patch=a.patch,
        conditioning=a.conditioning,
        device=a.device,
        amp=a.amp,
        threads=a.threads,
        ckpt_every=a.ckpt_every,
    )
    run = train(cfg, out, resume=a.resume)
    if not run.main:  # another rank of a torchrun job: rank 0 reports
        return
    print(f"trained {run.state['step']} steps in {run.state['wall_s']:.1f}s -> {out}")
    if not a.no_eval and len(run.shape) == 3:
        quick_image_check(run, Path(out))
    if not a.no_eval and len(run.shape) == 1:
        from generative.continuous.metrics import Reference, evaluate
        from generative.continuous.sampling import sample

        ref = Reference.for_run(run.cfg)
        steps = 250 if run.cfg.method == "ddpm" else None  # a quicker chain than the default
        res = sample(run.method, run.net, run.shape, ref.n, steps=steps, seed=0)
        x = ref.split.standardizer.encode(run.standardizer.decode(res.x.numpy()))
        print(
            f"quick check ({res.nfe} NFE, 1 eval seed; W2 in the data's standardized units): "
            + evaluate(lambda s: x, ref, seeds=1).line()
        )
    print(f"sample with: generative sample {out} --n 2000 --out samples.npy")


def quick_image_check(run, out: Path):
    """After an image run: a labelled sample grid in the run folder and the image metric."""
    from generative.continuous.data import load_dataset
    from generative.continuous.image_metrics import ImageReference, evaluate_images, run_drawer
    from generative.continuous.plots import image_grid

    sampler, steps = ("euler", 32) if run.cfg.method == "fm" else ("ancestral", 250)
    draw = run_drawer(run, sampler, steps)
    x, y = draw(0, 100)
    image_grid(x, out / "samples.png", y, title=f"{out.name}: {sampler} x{steps}")
    print(f"sample grid -> {out / 'samples.png'}")
    if load_dataset(run.cfg.data).train.labels is None:
        return  # no labels, no classifier to judge with
    ref = ImageReference(run.cfg.data, out)
    rep = evaluate_images(draw, ref, seeds=1)
    print(f"quick check ({draw.nfe} NFE, 1 eval seed): {rep.line()}")


def add_sample(sub):
    from generative.continuous.sampling import DEFAULT_SAMPLER, SAMPLERS

    p = sub.add_parser(
        "sample",
        help="draw samples from a trained run",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Sample a run folder; points are written in the data's own units.",
    )
    p.add_argument("run_dir")
    p.add_argument("--n", type=positive_int, default=2000)
    p.add_argument("--sampler", help=f"per method {SAMPLERS}; default {DEFAULT_SAMPLER}")
    p.add_argument("--steps", type=positive_int, help="solver or chain steps (NFE is printed)")
    p.add_argument("--guidance", type=float, default=1.0, help="CFG scale (1 = plain conditional)")
    p.add_argument("--label", type=int, help="class to sample (conditional runs)")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM noise (0 deterministic)")
    p.add_argument(
        "--variance", default="beta", choices=("beta", "beta_tilde"), help="ancestral sigma^2"
    )
    p.add_argument("--clip-x0", type=float, help="DDIM: clamp x0-hat to [-C, C] (images: 1)")
    p.add_argument(
        "--each-class",
        action="store_true",
        help="conditional runs: labels 0, 1, ..., K-1 in turn (a grid row per class set)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="FILE.npy or FILE.csv (points); images: .npy")
    p.add_argument("--plot", help="also draw the samples (points, or an image grid) to this PNG")
    discrete.add_sample_args(p)
    p.set_defaults(func=cmd_sample)


def cmd_sample(a):
    import torch

    from generative.continuous.sampling import sample
    from generative.continuous.train_denoiser import load_run

    if is_discrete_run(a.run_dir):
        return discrete.cmd_sample(a)
    out = Path(a.out)
    if out.suffix not in (".npy", ".csv"):
        raise UserError(f"--out {out}: use a .npy or .csv file name")
    run = load_run(a.run_dir)
    y = None
    if a.label is not None:
        if not run.num_classes:
            raise UserError("--label needs a run trained with --cond")
        if not 0 <= a.label < run.num_classes:
            raise UserError(
                f"--label {a.label} out of range: this run has classes 0..{run.num_classes - 1}"
            )
        y = torch.full((a.n,), a.label, dtype=torch.long)
    if a.each_class:
        if not run.num_classes or a.label is not None:
            raise UserError("--each-class needs a run trained with --cond, and no --label")
        y = torch.arange(a.n) % run.num_classes
    images = len(run.shape) == 3
    if images and out.suffix != ".npy":
        raise UserError(f"--out {out}: image samples are written as .npy (N, C, H, W)")
    res = sample(
        run.method,
        run.net,
        run.shape,
        a.n,
        a.sampler,
        a.steps,
        y,
        a.guidance,
        a.seed,
        eta=a.eta,
        clip_x0=a.clip_x0,
        variance=a.variance,
    )
    x = run.standardizer.decode(res.x.numpy())
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, x)
    else:
        np.savetxt(out, x, delimiter=",", fmt="%.6f")
    print(f"{a.n} samples, {res.nfe} NFE -> {out}")
    if a.plot and images:
        from generative.continuous.plots import image_grid

        ncols = run.num_classes if a.each_class else 10
        labels = None if y is None else y.tolist()
        image_grid(x, a.plot, labels, ncols, f"{a.run_dir} ({res.nfe} NFE)")
        print(f"image grid -> {a.plot}")
    elif a.plot:
        from generative.continuous.plots import grid_figure

        grid_figure(
            [{"samples": res.x.numpy(), "title": f"{a.run_dir} ({res.nfe} NFE)"}], a.plot, ncols=1
        )
        print(f"plot -> {a.plot}")


def add_evaluate(sub):
    p = sub.add_parser(
        "evaluate",
        help="score samples against the data (2D protocol)",
        description="W2 (exact OT, standardized coordinates) beside the i.i.d. floor, "
        "their ratio, mass per mode, and the share of points off the data.",
    )
    p.add_argument("file", help="samples in the data's units (.npy or .csv)")
    p.add_argument(
        "--data", required=True, help="toy-set name, or the .csv/.npy the run trained on"
    )
    p.add_argument("--seeds", type=positive_int, default=5, help="evaluation seeds (median)")
    p.add_argument("--noise", type=float, help="the toy set's noise, if the run changed it")
    p.add_argument("--json", action="store_true", help="print JSON instead of a line")
    p.add_argument("--label", type=int, help="images: every sample was asked to be this class")
    p.add_argument(
        "--judge-dir", default="runs/judges", help="images: where the classifier is cached"
    )
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate_images(a):
    """Image samples (.npy, (N, C, H, W) in [-1, 1]) against an image set's held-out split."""
    from generative.continuous.data import load_dataset
    from generative.continuous.image_metrics import ImageReference

    try:
        x = np.load(a.file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"{a.file}: not a readable .npy array ({exc})") from None
    want = load_dataset(a.data).heldout.x.shape[1:]  # checked before training a judge
    if x.ndim != 4 or x.shape[1:] != want:
        raise UserError(f"{a.file}: shape {x.shape}, but {a.data} images are (N, *{want})")
    ref = ImageReference(a.data, a.judge_dir)
    if a.label is not None and not 0 <= a.label < ref.num_classes:
        raise UserError(f"--label {a.label} out of range: classes 0..{ref.num_classes - 1}")
    y = None if a.label is None else np.full(len(x), a.label)
    fd, acc = ref.score(x.astype(np.float32), y)
    floor = ref.floor(0)
    out = {"fd": fd, "floor": floor, "ratio": fd / floor, "accuracy": acc, "n": len(x)}
    if a.json:
        print(json.dumps(out, indent=2))
        return
    acc_text = "" if acc is None else f", {100 * acc:.1f}% classified as {a.label}"
    print(f"FD {fd:.2f} (floor {floor:.2f} at n={ref.n}, {fd / floor:.2f}x){acc_text}")


def cmd_evaluate(a):
    from generative.continuous.data import load_points
    from generative.continuous.image_data import is_image_spec
    from generative.continuous.metrics import Reference, evaluate

    if is_image_spec(a.data):
        return cmd_evaluate_images(a)

    x = load_points(a.file)
    ref = Reference(a.data, noise=a.noise)
    dim = ref.split.train.x.shape[1]
    if x.shape[1] != dim:
        raise UserError(f"{a.file}: {x.shape[1]} columns but {a.data} has {dim}")
    xs = ref.split.standardizer.encode(x)

    def pick(seed):
        n = min(ref.n, len(xs))
        return xs[np.random.default_rng(seed).choice(len(xs), n, replace=False)]

    report = evaluate(pick, ref, seeds=a.seeds)
    print(json.dumps(report.to_json(), indent=2) if a.json else report.line())


def add_demo(sub):
    p = sub.add_parser(
        "demo",
        help="the four models on moons -> figure + table",
        description="Train {DDPM, FM} x {MLP, DiT} on two moons, two at a time, "
        "then write a 2x2 figure and the metrics table (terminal and Markdown).",
    )
    p.add_argument("--out", default="demo_out")
    p.add_argument("--steps", type=positive_int, help="override every model's training steps")
    p.add_argument("--seeds", type=positive_int, default=5, help="evaluation seeds")
    p.set_defaults(
        func=lambda a: __import__("generative.continuous.demo").continuous.demo.run_demo(
            a.out, a.steps, a.seeds
        )
    )


def add_tokenize(sub):
    from generative.discrete.data.tokenizer_images import IMAGE_DATA
    from generative.discrete.tokenizers.autoencoder import QUANTIZERS
    from generative.discrete.tokenizers.train_tokenizer import TokenizerConfig

    d = TokenizerConfig()
    p = sub.add_parser(
        "tokenize",
        help="train a learned image tokenizer (VQ, EMA-VQ, FSQ)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train a small conv autoencoder that turns 16x16 images into a grid of "
        "tokens. Writes a run folder (config.json, checkpoint, recon.png) and prints held-out "
        "codebook usage, perplexity and reconstruction MSE.",
    )
    p.add_argument("--quantizer", default=d.quantizer, choices=QUANTIZERS)
    p.add_argument("--data", default=d.data, choices=IMAGE_DATA, help="shapes2: two objects")
    p.add_argument("--K", type=positive_int, default=d.K, help="codebook size (vq, ema)")
    p.add_argument("--levels", default="8,6,5", help="FSQ levels, comma-separated (K = product)")
    p.add_argument("--dim", type=positive_int, default=d.dim, help="code dimension (vq, ema)")
    p.add_argument("--grid", type=int, default=d.grid, choices=(4, 8), help="tokens per side")
    p.add_argument("--width", type=positive_int, default=d.width, help="conv channels")
    p.add_argument("--n-train", type=positive_int, default=d.n_train, help="training images")
    p.add_argument("--beta", type=float, default=d.beta, help="commitment weight")
    p.add_argument("--decay", type=float, default=d.decay, help="EMA decay (ema)")
    p.add_argument("--steps", type=positive_int, default=d.steps)
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=positive_int, default=d.threads, help="torch CPU threads")
    p.add_argument("--out", help="run folder (default runs/tok-QUANTIZER-DATA-sSEED)")
    p.set_defaults(func=cmd_tokenize)


def cmd_tokenize(a):
    from generative.discrete.tokenizers.train_tokenizer import (
        TokenizerConfig,
        reconstruction_figure,
        train_tokenizer,
    )

    try:
        levels = tuple(int(v) for v in a.levels.split(","))
    except ValueError:
        raise UserError(
            f"--levels {a.levels}: give integers separated by commas, e.g. 8,6,5"
        ) from None
    out = Path(a.out or f"runs/tok-{a.quantizer}-{a.data}-s{a.seed}")
    cfg = TokenizerConfig(
        data=a.data,
        quantizer=a.quantizer,
        K=a.K,
        levels=levels,
        dim=a.dim,
        grid=a.grid,
        width=a.width,
        n_train=a.n_train,
        beta=a.beta,
        decay=a.decay,
        steps=a.steps,
        batch_size=a.batch_size,
        lr=a.lr,
        seed=a.seed,
        threads=a.threads,
    )
    run = train_tokenizer(cfg, out)
    reconstruction_figure(run, out / "recon.png")
    s = run.stats
    print(
        f"{cfg.quantizer}, K = {cfg.num_codes}, {cfg.grid**2} tokens per image: held-out usage "
        f"{100 * s['usage']:.1f}%, perplexity {s['perplexity']:.1f}, reconstruction MSE "
        f"{s['recon_mse']:.4f} ({run.state['wall_s']:.0f}s) -> {out} (recon.png)"
    )


def build_parser():
    parser = argparse.ArgumentParser(prog="generative", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (add_train, add_sample, add_evaluate, add_demo, add_tokenize):
        add(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted; the last checkpoint is kept (resume with --resume --out RUN_DIR)",
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
