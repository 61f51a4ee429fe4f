"""`generative info RUN`: what a run folder holds (method, data, steps, classes, last loss,
stored metrics), read from its JSON files without loading any weights."""

from __future__ import annotations

import json
from pathlib import Path

from generative.checkpoint import read_json
from generative.errors import UserError


def saved_config(run_dir):
    """The config a train run folder holds, checked (types, names, ranges): a damaged or
    hand-edited config.json is refused naming the file, never guessed at."""
    from generative.config import from_json
    from generative.continuous.train_denoiser import TrainConfig
    from generative.discrete.train_tokens import DiscreteConfig

    path = Path(run_dir) / "config.json"
    meta = read_json(path)
    cls = DiscreteConfig if meta.get("kind") == "discrete" else TrainConfig
    if not isinstance(meta.get("train"), dict):
        raise UserError(f"{path} is not a training run's config (no 'train' settings)")
    return from_json(cls, meta["train"], str(path))


def add(sub):
    p = sub.add_parser(
        "info",
        help="what a run folder holds",
        description="Method, data, steps done, classes, last loss and any stored metrics of a "
        "run folder (train or tokenize), read from its config.json and state.json.",
    )
    p.add_argument("run_dir", help="a run folder")
    p.add_argument("--json", action="store_true", help="print JSON instead of lines")
    p.set_defaults(func=cmd_info)


def summary(run_dir) -> dict:
    run_dir = Path(run_dir)
    meta = read_json(run_dir / "config.json")
    state = read_json(run_dir / "state.json") if (run_dir / "state.json").exists() else {}
    cfg = meta.get("train", meta)  # a tokenizer's config.json is its config alone
    if not isinstance(cfg, dict):
        raise UserError(f"{run_dir}/config.json is not a run config; the folder is damaged")
    kind = meta.get("kind") or ("tokenizer" if "quantizer" in cfg else "continuous")
    out = {"run": str(run_dir), "kind": kind}
    out["method"] = cfg.get("quantizer" if kind == "tokenizer" else "method")
    out["model"] = cfg.get("model") if kind == "continuous" else None
    out["data"] = cfg.get("data")
    out["cond"] = cfg.get("cond")
    out["classes"] = meta.get("num_classes")
    out["steps_done"], out["steps_total"] = state.get("step", 0), cfg.get("steps")
    losses = state.get("losses") or []
    out["last_loss"] = losses[-1][1] if losses else None
    out["wall_s"] = state.get("wall_s")
    out["metrics"] = state.get("heldout") or state.get("metrics") or {}
    out["snapshots"] = [s[0] for s in state.get("snapshots", [])]
    return {k: v for k, v in out.items() if v not in (None, [], {})}


def cmd_info(a):
    info = summary(a.run_dir)
    if a.json:
        print(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items()
            )
        elif isinstance(value, float):
            value = f"{value:.4g}"
        print(f"{key:12s} {value}")
