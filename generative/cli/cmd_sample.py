"""`generative sample RUN`: draw from a trained run (points, images or tokens). The flags come
from the dataclasses below, one per kind of run; a flag of the other kind is an error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generative.cli.flags import add_flags, build, given
from generative.cli.paths import distinct, writable_file
from generative.config import option
from generative.continuous.diffusion import VARIANCES
from generative.continuous.sampling import DEFAULT_SAMPLER, SAMPLERS
from generative.discrete.decoders import CHOICE_TEMPERATURE, CORRECTOR_K, DECODERS
from generative.discrete.generate import SAMPLERS as TOKEN_SAMPLERS
from generative.discrete.objectives.schedules import SCHEDULES
from generative.distributed import DEVICES
from generative.errors import UserError


def _names(table: dict) -> tuple:
    return tuple(dict.fromkeys(s for names in table.values() for s in names))


@dataclass
class SampleArgs:
    """Flags every run takes."""

    n: int = option(2000, "samples to draw", ge=1, le=10_000_000)
    sampler: str | None = option(
        None,
        "sampler (fm: ODE solvers; ddpm: also ancestral, ddim; tokens: maskgit, mdlm, ...)",
        choices=_names(SAMPLERS) + _names(TOKEN_SAMPLERS),
        auto_text="rk4 (fm), ancestral (ddpm); tokens: the method's own",
    )
    steps: int | None = option(
        None,
        "solver steps, chain steps or decoding rounds (NFE is printed)",
        ge=1,
        auto_text=f"{DEFAULT_SAMPLER['fm'][1]} (fm, rk4), {DEFAULT_SAMPLER['ddpm'][1]} "
        "(ddpm, ancestral), 32 (other solvers); tokens: 8 (maskgit), 64 (mdlm)",
    )
    label: int | None = option(None, "class to sample (conditional runs)", ge=0)
    seed: int = option(0, "seeds the prior draw and the sampler's noise", ge=0)


@dataclass
class PointSampleArgs(SampleArgs):
    """Part A runs (points and images)."""

    guidance: float = option(1.0, "CFG scale (1: plain conditional; needs --label)", ge=0)
    eta: float = option(0.0, "DDIM noise (0: deterministic)", ge=0)
    variance: str = option("beta", "ancestral sigma^2", choices=VARIANCES)
    clip_x0: float | None = option(None, "DDIM: clamp x0-hat to [-C, C] (images: 1)", gt=0)
    each_class: bool = option(False, "labels 0, 1, ..., K-1 in turn (conditional runs)")
    device: str = option("cpu", "hardware to sample on", choices=DEVICES)


@dataclass
class TokenSampleArgs(SampleArgs):
    """Part B runs (token generators)."""

    caption_text: str | None = option(None, "caption to sample (caption runs), 7 words")
    mask_schedule: str = option("cosine", "MaskGIT decoding schedule", choices=SCHEDULES)
    temperature: float = option(1.0, "token sampling temperature", gt=0)
    choice_temperature: float = option(
        CHOICE_TEMPERATURE,
        "MaskGIT: Gumbel noise on the confidence, annealed to 0 (0: pure confidence; exp32)",
        ge=0,
    )
    decoder: str = option(
        "fixed",
        "MaskGIT: fixed (T = --steps rounds) or adaptive (an entropy budget a round)",
        choices=DECODERS,
    )
    entropy_budget: float = option(
        2.0, "adaptive decoder: bits of predicted entropy fixed per round", gt=0
    )
    corrector: int = option(
        0, "MaskGIT: corrector calls after decoding (re-mask and re-sample the least likely)", ge=0
    )
    corrector_k: int = option(CORRECTOR_K, "tokens each corrector call re-samples", ge=1)
    oracle: bool = option(
        False, "decode the exact posterior of the run's data instead of its network (a bound)"
    )
    kv_cache: bool = option(True, "AR: reuse the keys and values of the prefix")
    trace: str | None = option(None, "MaskGIT: write the unmasking rounds to this JSON")


def _title(owners) -> str:
    if len(owners) > 1:
        return "every run"
    if owners[0] is PointSampleArgs:
        return "Part A runs (points, images)"
    return "Part B runs (token generators)"


def add(sub):
    p = sub.add_parser(
        "sample",
        help="draw samples from a trained run",
        description="Sample a run folder; points are written in the data's own units, token "
        "runs as token ids (.npy) and a grid (.png) with the exact checker's verdicts.",
    )
    p.add_argument("run_dir", help="a run folder written by generative train")
    p.add_argument(
        "--out",
        required=True,
        help="points: FILE.npy or FILE.csv; images: FILE.npy; tokens: FILE.png or FILE.npy",
    )
    p.add_argument("--plot", help="also draw the samples to this PNG (2-D points, images)")
    p.add_argument(
        "--dry-run", action="store_true", help="check every flag and the run, draw nothing"
    )
    flags, _ = add_flags(p, [PointSampleArgs, TokenSampleArgs], _title, {PointSampleArgs: "Part A"})
    p.set_defaults(func=cmd_sample, flags=flags)


def cmd_sample(a):
    from generative.cli.cmd_info import saved_config

    token = type(saved_config(a.run_dir)).__name__ == "DiscreteConfig"  # checked before use
    cls = TokenSampleArgs if token else PointSampleArgs
    what = f"{a.run_dir} (a {'token' if token else 'Part A'} run)"
    opts = build(cls, given(a, a.flags), a.flags, what)
    out = writable_file(a.out, "--out")
    if a.plot is not None:
        writable_file(a.plot, "--plot")
        if not token:
            distinct({"--out": out, "--plot": a.plot})
        if Path(a.plot).suffix != ".png":
            raise UserError(f"--plot {a.plot}: give a .png file name")
    if token:
        from generative.cli.sample_tokens import sample_tokens

        return sample_tokens(a.run_dir, opts, out, a.plot, a.dry_run)
    from generative.cli.sample_points import sample_points

    return sample_points(a.run_dir, opts, out, a.plot, a.dry_run)
