"""`generative train`: Part A (fm, ddpm on points and images) and Part B (token generators)
from one table of flags generated from TrainConfig and DiscreteConfig."""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from generative.checkpoint import resume_config
from generative.cli.flags import add_flags, build, given
from generative.cli.paths import writable_folder
from generative.config import option
from generative.continuous.train_denoiser import METHODS as PART_A
from generative.continuous.train_denoiser import TrainConfig
from generative.discrete.train_tokens import METHODS as PART_B
from generative.discrete.train_tokens import DiscreteConfig
from generative.errors import UserError


@dataclass
class TokenCondition:
    """Part B's condition (one field of DiscreteConfig), typed as Part A's --cond or --caption."""

    cond: bool = option(False, "class-conditional on the data's labels")
    caption: bool = option(False, "condition on captions (shapes only)")


LABELS = {TrainConfig: "Part A", DiscreteConfig: "Part B", TokenCondition: "Part B"}


def _title(owners) -> str:
    if TrainConfig in owners and len(owners) > 1:
        return "both parts"
    if owners[0] is TrainConfig:
        return f"Part A: continuous (--method {'|'.join(PART_A)})"
    return f"Part B: token generators (--method {'|'.join(PART_B)})"


def add(sub):
    p = sub.add_parser(
        "train",
        help="train a denoiser (Part A) or a token generator (Part B)",
        description="Train DDPM or flow matching (an MLP or a DiT on points or images), or a "
        "token generator (MaskGIT, AR, MDLM, D3PM on token scenes). Writes a run folder "
        "(config.json, state.json, checkpoint-*.safetensors). A flag of one part given with the "
        "other part's method is an error. Several processes: "
        "torchrun --nproc_per_node=N -m generative.cli train ...",
    )
    run = p.add_argument_group("the run folder")
    run.add_argument("--out", help="run folder (default: runs/METHOD-MODEL-DATA-sSEED)")
    run.add_argument("--resume", action="store_true", help="continue the run in --out")
    run.add_argument("--no-eval", action="store_true", help="skip the check after training")
    run.add_argument(
        "--dry-run", action="store_true", help="check every flag, print the settings, train nothing"
    )
    flags, _ = add_flags(p, [TrainConfig, DiscreteConfig, TokenCondition], _title, LABELS)
    p.set_defaults(func=cmd_train, flags=flags)


def _token_cond(values: dict, flags) -> str:
    """Part B's condition from --cond / --caption (taken out of values)."""
    typed_flags = {k: values.pop(k) for k in ("--cond", "--caption") if k in values}
    c = build(TokenCondition, typed_flags, flags, "a token generator")
    if c.cond and c.caption:
        raise UserError("--cond and --caption: choose one (class labels or captions)")
    return "caption" if c.caption else "class" if c.cond else "none"


def _resume_config(a, values: dict):
    from generative.cli.cmd_info import saved_config

    if not a.out:
        raise UserError("--resume needs --out RUN_DIR (the run to continue)")
    saved = saved_config(a.out)
    cls = type(saved)
    if cls is DiscreteConfig and ("--cond" in values or "--caption" in values):
        if _token_cond(values, a.flags) != saved.cond:
            raise UserError(f"{a.out} was trained with condition '{saved.cond}'; keep it")
    given_cfg = build(cls, values, a.flags, f"the run in {a.out}", base=saved)
    explicit = {a.flags[n].fields[cls].name for n in values}
    cfg, _ = resume_config(saved, given_cfg, mutable(cls), explicit)  # refusals before any work
    return cfg, explicit


def mutable(cls) -> set:
    """The fields a resumed run may change: the trainer's RESUMABLE, else the step budget."""
    import importlib

    return getattr(importlib.import_module(cls.__module__), "RESUMABLE", {"steps"})


def _new_config(a, values: dict):
    method = values.get("--method", TrainConfig.method)
    if method in PART_B:
        base = DiscreteConfig(cond=_token_cond(values, a.flags))
        return build(DiscreteConfig, values, a.flags, f"--method {method} (Part B)", base)
    return build(TrainConfig, values, a.flags, f"--method {method} (Part A)")


def effective(cfg):
    """The settings training will use (model-dependent defaults filled, aliases resolved)."""
    if isinstance(cfg, DiscreteConfig):
        from generative.discrete.train_tokens import validate

        return validate(cfg)
    from generative.continuous.train_denoiser import resolved

    return resolved(cfg)


def default_out(cfg) -> str:
    if isinstance(cfg, DiscreteConfig):
        return f"runs/{cfg.method}-{cfg.data}-{cfg.cond}-s{cfg.seed}"
    return f"runs/{cfg.method}-{cfg.model}-{Path(cfg.data).stem}-s{cfg.seed}"


def cmd_train(a: argparse.Namespace):
    values = given(a, a.flags)
    cfg, explicit = _resume_config(a, values) if a.resume else (_new_config(a, values), None)
    out = writable_folder(a.out or default_out(cfg), "--out")
    if not a.resume and (out / "state.json").exists():
        raise UserError(
            f"{out} already holds a run; pass --resume to continue it, or choose another --out"
        )
    if a.dry_run:
        return print(json.dumps({"out": str(out), **dataclasses.asdict(effective(cfg))}))
    from generative.cli import quick_check

    try:
        if isinstance(cfg, DiscreteConfig):
            return quick_check.train_tokens(cfg, out, a.resume, a.no_eval, explicit)
        return quick_check.train_points(cfg, out, a.resume, a.no_eval, explicit)
    except KeyboardInterrupt as exc:
        if str(exc):  # the loop says where it saved
            raise
        raise KeyboardInterrupt(resume_hint(out)) from None


def resume_hint(out: Path) -> str:
    """What Ctrl-C left behind, truthfully: a checkpoint to resume from, or none."""
    state = out / "state.json"
    if not state.exists():
        return f"no checkpoint had been written to {out} yet; nothing to resume"
    step = json.loads(state.read_text()).get("step")
    return f"the checkpoint at step {step} is kept; continue: generative train --resume --out {out}"
