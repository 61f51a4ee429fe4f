"""Training from the command line, then a quick check of what was trained: W2 for points, the
image metric and a sample grid for images, held-out bits per token for token generators."""

from __future__ import annotations

from pathlib import Path


def train_points(cfg, out: Path, resume: bool, no_eval: bool, explicit=None):
    from generative.continuous.train_denoiser import train

    run = train(cfg, out, resume=resume, explicit=explicit)
    if not run.main:  # another rank of a torchrun job: rank 0 reports
        return
    print(f"trained {run.state['step']} steps in {run.state['wall_s']:.1f}s -> {out}")
    if not no_eval and len(run.shape) == 3:
        quick_image_check(run, out)
    if not no_eval and len(run.shape) == 1:
        quick_point_check(run)
    print(f"sample with: generative sample {out} --n 2000 --out samples.npy")


def quick_point_check(run):
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


def train_tokens(cfg, out: Path, resume: bool, no_eval: bool, explicit=None):
    from generative.discrete.train_tokens import train_discrete

    run = train_discrete(cfg, out, resume=resume, explicit=explicit)
    params = run.net.num_params() / 1e6
    print(
        f"trained {run.state['step']} steps in {run.state['wall_s']:.1f}s "
        f"({params:.2f}M parameters) -> {out}"
    )
    if not no_eval:
        from generative.discrete.generate import bits_per_token

        kind = "exact" if cfg.method == "ar" else "bound"
        bpt = bits_per_token(run, n=200, passes=2)
        print(f"held-out: {bpt:.3f} bits per token ({kind}, 200 sequences)")
    print(f"sample with: generative sample {out} --n 64 --steps 8 --out samples.png")
