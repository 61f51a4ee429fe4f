"""Part A's trainer: a config (TrainConfig) and a loss handed to the one loop (generative/loop.py).

Every method (DDPM, FM) x model (MLP, DiT) x data set: label dropout for classifier-free
guidance here; AdamW, the cosine decay, EMA weights (what we sample from), bit-exact resume, the
divergence guard, devices and torchrun come from the loop.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from generative import config
from generative.checkpoint import load_checkpoint, load_snapshot, read_json
from generative.config import check, option
from generative.continuous.coupling import COUPLINGS, OTFlowMatching
from generative.continuous.data import MIN_POINTS, TOY, Standardizer, load_dataset
from generative.continuous.diffusion import DDPM, SCHEDULES, TARGETS
from generative.continuous.diffusion_transformer import CONDITIONINGS, DIT_SIZES, DiT
from generative.continuous.flow_matching import PATHS, FlowMatching
from generative.continuous.image_data import IMAGE_SETS, is_image_spec
from generative.continuous.mlp import MLP
from generative.distributed import DEVICES
from generative.errors import UserError
from generative.guard import Diverged  # noqa: F401  (re-exported: callers catch it here)
from generative.loop import (
    LoopConfig,
    Streams,
    begin,
    fit,
)

METHODS = ("fm", "ddpm")
MODELS = ("mlp", "dit")


DEFAULT_STEPS = {"mlp": 3500, "dit": 2500}
DEFAULT_LR = {"mlp": 2e-3, "dit": 1e-3}


def _per_model(d: dict) -> str:
    return ", ".join(f"{v:g} ({k})" for k, v in d.items())


DDPM_ONLY = ("--method ddpm", lambda c: c.method == "ddpm")
FM_ONLY = ("--method fm", lambda c: c.method == "fm")
MLP_ONLY = ("--model mlp", lambda c: c.model == "mlp")
DIT_ONLY = ("--model dit", lambda c: c.model == "dit")
TOY_ONLY = (f"a named toy set ({', '.join(TOY)})", lambda c: c.data in TOY)
POINTS_ONLY = ("point data (images are always in [-1, 1])", lambda c: not is_image_spec(c.data))
COND_ONLY = ("--cond", lambda c: bool(c.cond))


@dataclass
class TrainConfig:
    """Everything that defines a run; saved as config.json beside its checkpoints."""

    method: str = option("fm", "objective: flow matching or DDPM", choices=METHODS)
    model: str = option("mlp", "denoiser network", choices=MODELS)
    data: str = option(
        "moons",
        f"a toy set ({', '.join(TOY)}), a .csv/.npy file of N x D points, an image set "
        f"({', '.join(IMAGE_SETS)}) or a folder of PNGs (one subfolder per class)",
    )
    steps: int = option(0, "optimizer steps", ge=1, auto=0, auto_text=_per_model(DEFAULT_STEPS))
    batch_size: int = option(256, "examples per optimizer step (torchrun: global)", ge=1)
    lr: float = option(0.0, "peak learning rate", gt=0, auto=0.0, auto_text=_per_model(DEFAULT_LR))
    weight_decay: float = option(0.0, "AdamW weight decay", ge=0)
    ema_decay: float = option(0.999, "EMA decay per step (samples use the EMA weights)", ge=0, lt=1)
    seed: int = option(0, "seeds the data draw, the initialization and the batches", ge=0)
    n_train: int = option(8000, "points drawn for a toy set", ge=MIN_POINTS, applies=TOY_ONLY)
    noise: float | None = option(
        None, "toy-set noise", ge=0, auto_text="the set's own (moons 0.03)", applies=TOY_ONLY
    )
    standardize: bool = option(
        True,
        "standardize the points per axis (off: raw coordinates, gotcha #1: prior and data then "
        "disagree in scale)",
        applies=POINTS_ONLY,
    )
    cond: bool = option(False, "class-conditional on the data's labels")
    p_uncond: float = option(0.1, "label dropout (for guidance)", ge=0, le=1, applies=COND_ONLY)
    schedule: str = option("linear", "DDPM noise schedule", choices=SCHEDULES, applies=DDPM_ONLY)
    T: int = option(1000, "DDPM chain length", ge=1, applies=DDPM_ONLY)
    target: str = option("eps", "what the DDPM net predicts", choices=TARGETS, applies=DDPM_ONLY)
    path: str = option("linear", "flow matching's probability path", choices=PATHS, applies=FM_ONLY)
    coupling: str = option(
        "independent",
        "how noise pairs with data in a batch (ot: exact minibatch OT, OT-CFM)",
        choices=COUPLINGS,
        applies=FM_ONLY,
    )
    init: str = option("", "a run folder whose EMA weights start this run (fine-tuning)")
    t_scale: float = option(1000.0, "time multiplier before the sinusoidal embedding", gt=0)
    width: int = option(128, "MLP width", ge=1, applies=MLP_ONLY)  # 125k parameters on 2D
    depth: int = option(3, "MLP residual blocks", ge=1, applies=MLP_ONLY)
    dit_size: str = option("DiT-T", "DiT preset", choices=DIT_SIZES, applies=DIT_ONLY)
    patch: int = option(1, "DiT patch side (points: numbers per token)", ge=1, applies=DIT_ONLY)
    conditioning: str = option(
        "adaln_zero", "how the DiT takes t and y", choices=CONDITIONINGS, applies=DIT_ONLY
    )
    device: str = option("auto", "hardware (auto: CUDA, then MPS, then CPU)", choices=DEVICES)
    amp: bool = option(False, "bf16 mixed precision (CUDA only)")
    threads: int = option(1, "torch CPU threads", ge=1)
    ckpt_every: int = option(1000, "steps between checkpoints", ge=1)
    snapshot_every: int = option(0, "also keep the EMA weights every N steps (0: off)", ge=0)
    log_every: int = option(10, "steps per logged loss", ge=1)


def resolved(cfg: TrainConfig) -> TrainConfig:
    """Validate every field (type, choice, range) and fill model-dependent defaults."""
    check(cfg)
    return dataclasses.replace(
        cfg, steps=cfg.steps or DEFAULT_STEPS[cfg.model], lr=cfg.lr or DEFAULT_LR[cfg.model]
    )


def build_method(cfg: TrainConfig):
    if cfg.method == "ddpm":
        return DDPM(cfg.schedule, cfg.T, cfg.target)
    return OTFlowMatching(cfg.path) if cfg.coupling == "ot" else FlowMatching(cfg.path)


def build_model(cfg: TrainConfig, shape, num_classes: int):
    if cfg.model == "mlp":
        return MLP(shape, cfg.width, cfg.depth, num_classes, cfg.t_scale)
    return DiT(shape, cfg.patch, cfg.dit_size, num_classes, cfg.t_scale, cfg.conditioning)


@dataclass
class Run:
    """A trained (or loaded) run: config, EMA network, objective, and the data's standardizer."""

    cfg: TrainConfig
    net: torch.nn.Module
    method: object
    standardizer: Standardizer
    shape: tuple
    num_classes: int
    state: dict
    main: bool = True  # False on the other ranks of a torchrun job (they print and save nothing)


# may change on resume (the rest defines the run): budget, learning rate, cadences, hardware
RESUMABLE = {"steps", "lr", "ckpt_every", "snapshot_every", "log_every", "device", "threads"}


def saved_config(run_dir) -> TrainConfig:
    """The TrainConfig in a run folder's config.json (a damaged or foreign one is refused)."""
    return config.saved_config(TrainConfig, run_dir)


def loop_config(cfg: TrainConfig) -> LoopConfig:
    advice = ", and keep standardization on (drop --no-standardize)"
    return LoopConfig.of(cfg, advice=advice, desc=f"{cfg.method}+{cfg.model}")


# region: train-loop
def train(
    cfg: TrainConfig,
    out_dir,
    resume: bool = False,
    progress: bool = True,
    method=None,
    explicit=None,
) -> Run:
    """Train (or resume) a run in out_dir; returns the run with its EMA network. method: an
    objective with .loss(net, x1, y, generator) to use instead of cfg's (the claims lab trains
    peers' objectives this way; the run is then sampled as cfg's method)."""
    out_dir = Path(out_dir)
    cfg, lc, d = begin(
        cfg, out_dir, resume, saved=saved_config, resumable=RESUMABLE, check=resolved,
        loop_config=loop_config, explicit=explicit,
    )  # fmt: skip
    split = load_dataset(cfg.data, cfg.n_train, cfg.seed, cfg.noise)
    if cfg.cond and split.train.labels is None:
        raise UserError(f"--cond needs class labels and '{cfg.data}' has none; drop --cond")
    images = split.train.x.ndim > 2  # images are already in [-1, 1]: identity standardizer
    std = split.standardizer
    if not (cfg.standardize or images):  # raw coordinates, as many as the data has
        std = Standardizer.identity(split.train.x.shape[1])
    x = torch.from_numpy(std.encode(split.train.x)).to(d.device)  # (N, D) or (N, C, H, W)
    labels = torch.from_numpy(split.train.labels).to(d.device) if cfg.cond else None
    num_classes = split.train.num_classes if cfg.cond else 0
    shape = tuple(x.shape[1:])
    model = build_model(cfg, shape, num_classes)
    if cfg.init and not resume:  # fine-tuning (reflow, distillation): another run's EMA weights
        model.load_state_dict(load_run(cfg.init).net.state_dict())
    method = method or build_method(cfg)

    def loss(net, s: Streams):
        idx = torch.randint(0, len(x), (cfg.batch_size,), generator=s.gen)  # the global batch
        y = None
        if labels is not None:  # drop labels to the null class for classifier-free guidance
            y = labels[idx.to(s.device)].clone()
            y[torch.rand(len(idx), generator=s.gen).to(s.device) < cfg.p_uncond] = num_classes
            y = y[s.shard]
        return method.loss(net, x[idx[s.shard].to(s.device)], y, generator=s.noise)

    meta = {
        "train": dataclasses.asdict(cfg),
        "shape": list(shape),
        "num_classes": num_classes,
        "standardizer": std.to_json(),
        "n_train": len(x),
    }
    done = fit(lc, d, model, loss, out_dir, resume=resume, progress=progress, meta=meta)
    return Run(cfg, done.ema.cpu().eval(), method, std, shape, num_classes, done.state, done.main)


# endregion


def load_run(run_dir, use_ema: bool = True, snapshot: int | None = None) -> Run:
    """A trained run from its folder, ready to sample (EMA weights by default; `snapshot`:
    the EMA weights kept at that step, for runs trained with snapshot_every)."""
    run_dir = Path(run_dir)
    cfg = saved_config(run_dir)
    meta = read_json(run_dir / "config.json")
    try:
        shape, num_classes = tuple(meta["shape"]), int(meta["num_classes"])
        std = Standardizer.from_json(meta["standardizer"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{run_dir}/config.json is not a run config ({exc})") from None
    tensors, state = load_checkpoint(run_dir)
    if snapshot is not None:
        tensors, use_ema = load_snapshot(run_dir, snapshot), True
    net = build_model(cfg, shape, num_classes)
    prefix = "ema." if use_ema else "model."
    try:
        net.load_state_dict(
            {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        )
    except RuntimeError as exc:
        raise UserError(f"{run_dir}: weights do not fit the config ({exc})") from None
    torch.set_num_threads(cfg.threads)
    return Run(cfg, net.eval(), build_method(cfg), std, shape, num_classes, state)
