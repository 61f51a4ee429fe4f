"""`generative evaluate FILE --data D`: score samples against the data (the fixed 2-D protocol:
W2 beside its i.i.d. floor; images: Frechet distance in a judge's features beside its floor)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from generative.cli.flags import add_flags, build, given
from generative.config import option
from generative.continuous.data import TOY
from generative.continuous.image_data import is_image_spec
from generative.errors import UserError

IMAGES_ONLY = ("image data", lambda c: is_image_spec(c.data))


@dataclass
class EvaluateArgs:
    data: str = option("", "toy-set name, the .csv/.npy the run trained on, or an image set")
    seeds: int = option(5, "evaluation seeds (the median is reported)", ge=1)
    noise: float | None = option(
        None,
        "the toy set's noise, if the run changed it",
        ge=0,
        auto_text="the set's own",
        applies=(f"a toy set ({', '.join(TOY)})", lambda c: c.data in TOY),
    )
    json: bool = option(False, "print JSON instead of a line")
    label: int | None = option(None, "every sample was asked to be this class", ge=0)
    judge_dir: str = option("runs/judges", "where the judge is cached", applies=IMAGES_ONLY)


def add(sub):
    p = sub.add_parser(
        "evaluate",
        help="score samples against the data",
        description="Points: W2 (exact OT, standardized coordinates) beside the i.i.d. floor, "
        "their ratio, mass per mode, and the share of points off the data. Images: Frechet "
        "distance in a small classifier's features beside its floor.",
    )
    p.add_argument("file", help="samples in the data's units (.npy or .csv; images: .npy)")
    p.add_argument(
        "--dry-run", action="store_true", help="check the flags and files, score nothing"
    )
    flags, _ = add_flags(p, [EvaluateArgs], lambda owners: "options")
    p.set_defaults(func=cmd_evaluate, flags=flags)


def cmd_evaluate(a):
    values = given(a, a.flags)
    if not values.get("--data"):
        raise UserError("evaluate needs --data: the toy set or file the samples should match")
    opts = build(EvaluateArgs, values, a.flags, "evaluate")
    if is_image_spec(opts.data):
        return evaluate_images(a.file, opts, a.dry_run)
    if opts.label is not None:
        raise UserError("--label scores conditional image samples; drop it for points")
    evaluate_points(a.file, opts, a.dry_run)


def evaluate_points(file, opts, dry_run: bool = False):
    from generative.continuous.data import load_points
    from generative.continuous.metrics import Reference, evaluate

    x = load_points(file)
    ref = Reference(opts.data, noise=opts.noise)
    dim = ref.split.train.x.shape[1]
    if x.shape[1] != dim:
        raise UserError(f"{file}: {x.shape[1]} columns but {opts.data} has {dim}")
    if len(x) < ref.n:
        raise UserError(
            f"{file}: {len(x)} samples, but the protocol compares {ref.n} samples with {ref.n} "
            f"reference points (the floor is measured at that n); draw at least {ref.n}, e.g. "
            f"generative sample RUN --n {ref.n} --out {file}"
        )
    if dry_run:
        return print(f"would score {len(x)} samples against {opts.data} ({opts.seeds} seeds)")
    xs = ref.split.standardizer.encode(x)

    def pick(seed):
        return xs[np.random.default_rng(seed).choice(len(xs), ref.n, replace=False)]

    report = evaluate(pick, ref, seeds=opts.seeds)
    print(json.dumps(report.to_json(), indent=2) if opts.json else report.line())


def evaluate_images(file, opts, dry_run: bool = False):
    """Image samples (.npy, (N, C, H, W) in [-1, 1]) against an image set's held-out split."""
    from generative.continuous.data import load_dataset
    from generative.continuous.image_metrics import ImageReference

    try:
        x = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"{file}: not a readable .npy array ({exc})") from None
    held = load_dataset(opts.data).heldout.x  # checked before training a judge
    if x.ndim != 4 or x.shape[1:] != held.shape[1:]:
        raise UserError(
            f"{file}: shape {x.shape}, but {opts.data} images are (N, *{held.shape[1:]})"
        )
    if len(x) < len(held):
        raise UserError(
            f"{file}: {len(x)} images, but the floor is measured with {len(held)} (the held-out "
            f"set); draw at least {len(held)}"
        )
    if not np.isfinite(x).all():
        raise UserError(f"{file}: holds NaN or inf values; sample the run again")
    if dry_run:
        return print(f"would score {len(x)} images against {opts.data}")
    ref = ImageReference(opts.data, opts.judge_dir)
    if opts.label is not None and opts.label >= ref.num_classes:
        raise UserError(f"--label {opts.label} out of range: classes 0..{ref.num_classes - 1}")
    y = None if opts.label is None else np.full(len(x), opts.label)
    fd, acc = ref.score(x.astype(np.float32), y)
    floor = ref.floor(0)
    out = {"fd": fd, "floor": floor, "ratio": fd / floor, "accuracy": acc, "n": len(x)}
    if opts.json:
        print(json.dumps(out, indent=2))
        return
    acc_text = "" if acc is None else f", {100 * acc:.1f}% classified as {opts.label}"
    print(f"FD {fd:.2f} (floor {floor:.2f} at n={ref.n}, {fd / floor:.2f}x){acc_text}")
