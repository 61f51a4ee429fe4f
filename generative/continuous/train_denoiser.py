"""One training loop for every method (DDPM, FM) x model (MLP, DiT) x data set.

AdamW, a cosine learning-rate decay, EMA weights (what we sample from), label dropout for
classifier-free guidance, checkpoints that resume bit-for-bit, and a NaN guard that stops with
advice and leaves the last good checkpoint in place. Under torchrun the same loop runs data
parallel (see distributed.py); `device` and `amp` (bf16 autocast, CUDA only) pick the hardware.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from generative.checkpoint import (
    load_checkpoint,
    load_snapshot,
    read_json,
    save_checkpoint,
    save_snapshot,
    write_json,
)
from generative.config import check, option
from generative.continuous.data import TOY, Standardizer, load_dataset
from generative.continuous.diffusion import DDPM, SCHEDULES, TARGETS
from generative.continuous.diffusion_transformer import CONDITIONINGS, DIT_SIZES, DiT
from generative.continuous.flow_matching import PATHS, FlowMatching
from generative.continuous.image_data import IMAGE_SETS, is_image_spec
from generative.continuous.mlp import MLP
from generative.distributed import DEVICES, gather_states, mean_over_ranks, setup, teardown
from generative.errors import UserError

METHODS = ("fm", "ddpm")
MODELS = ("mlp", "dit")


DEFAULT_STEPS = {"mlp": 3500, "dit": 2500}
DEFAULT_LR = {"mlp": 2e-3, "dit": 1e-3}
MIN_POINTS = 10  # a data set smaller than this trains on too few points to mean anything


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
    return FlowMatching(cfg.path)


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


class Diverged(UserError):
    """The loss stopped being finite."""


def _tensors(model, ema, opt, gen, rank_states=()) -> dict:
    out = {f"model.{k}": v for k, v in model.state_dict().items()}
    out.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    for idx, st in opt.state_dict()["state"].items():
        out.update({f"opt.{idx}.{k}": torch.as_tensor(v) for k, v in st.items()})
    out["rng"] = gen.get_state()
    out.update({f"rng.rank{r}": s for r, s in enumerate(rank_states)})  # torchrun: noise RNGs
    return out


def _restore(tensors, model, ema, opt, gen):
    def part(prefix):
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    model.load_state_dict(part("model."))
    ema.load_state_dict(part("ema."))
    state = {}
    for k, v in part("opt.").items():
        idx, name = k.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    sd = opt.state_dict()
    opt.load_state_dict({"state": state, "param_groups": sd["param_groups"]})
    gen.set_state(tensors["rng"])


# region: train-loop
def train(
    cfg: TrainConfig, out_dir, resume: bool = False, progress: bool = True, method=None
) -> Run:
    """Train (or resume) a run in out_dir; returns the run with its EMA network. method: an
    objective with .loss(net, x1, y, generator) to use instead of cfg's (the claims lab trains
    peers' objectives this way; the run is then sampled as cfg's method)."""
    out_dir = Path(out_dir)
    if resume:  # the run's own config; only a given --steps (non-zero) extends or shortens it
        saved = TrainConfig(**read_json(out_dir / "config.json")["train"])
        cfg = dataclasses.replace(saved, steps=cfg.steps or saved.steps)
    cfg = resolved(cfg)
    if not resume and (out_dir / "state.json").exists():
        raise UserError(
            f"{out_dir} already holds a run; pass --resume to continue it, or choose another --out"
        )
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    d = setup(cfg.device)
    if cfg.amp and d.device.type != "cuda":
        raise UserError(f"--amp (bf16 autocast) needs a CUDA device; this run is on {d.device}")
    if cfg.batch_size % d.world:
        raise UserError(f"--batch-size {cfg.batch_size} must divide by the {d.world} processes")
    split = load_dataset(cfg.data, cfg.n_train, cfg.seed, cfg.noise)
    if cfg.cond and split.train.labels is None:
        raise UserError(f"--cond needs class labels and '{cfg.data}' has none; drop --cond")
    images = split.train.x.ndim > 2  # images are already in [-1, 1]: identity standardizer
    std = split.standardizer if cfg.standardize or images else Standardizer.identity(2)
    x = torch.from_numpy(std.encode(split.train.x)).to(d.device)  # (N, D) or (N, C, H, W)
    labels = torch.from_numpy(split.train.labels).to(d.device) if cfg.cond else None
    num_classes = split.train.num_classes if cfg.cond else 0
    shape = tuple(x.shape[1:])

    model = build_model(cfg, shape, num_classes).to(d.device)
    ema = build_model(cfg, shape, num_classes).to(d.device).requires_grad_(False)
    ema.load_state_dict(model.state_dict())
    method = method or build_method(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)  # batches: the same stream on every rank
    noise_gen = gen  # t and noise: one process keeps one stream (as before torchrun existed)
    if d.active:
        noise_gen = torch.Generator().manual_seed(cfg.seed + 7919 * (d.rank + 1))
    state = {"step": 0, "losses": [], "wall_s": 0.0, "running": []}
    if resume:
        tensors, state = load_checkpoint(out_dir)
        _restore(tensors, model, ema, opt, gen)
        if d.active and f"rng.rank{d.rank}" in tensors:
            noise_gen.set_state(tensors[f"rng.rank{d.rank}"])
    net = model
    if d.active:  # averages gradients over ranks; broadcasts rank 0's weights at the start
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(
            model, device_ids=[d.device] if d.device.type == "cuda" else None
        )
    shard = slice(d.rank * cfg.batch_size // d.world, (d.rank + 1) * cfg.batch_size // d.world)
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16))
        if cfg.amp
        else contextlib.nullcontext
    )
    if d.main:  # only rank 0 writes the run folder
        out_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "train": dataclasses.asdict(cfg),
        "shape": list(shape),
        "num_classes": num_classes,
        "standardizer": std.to_json(),
        "n_train": len(x),
    }
    if d.main:
        write_json(out_dir / "config.json", meta)  # on resume: records the new step budget

    saved_step = state["step"] if resume else None

    def save():  # a collective under torchrun (every rank's noise RNG), written by rank 0
        nonlocal saved_step
        ranks = gather_states(noise_gen.get_state(), d) if d.active else ()
        if d.main:
            save_checkpoint(out_dir, _tensors(model, ema, opt, gen, ranks), state)
        saved_step = state["step"]

    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    t0 = time.perf_counter() - state["wall_s"]
    c0 = time.process_time() - state.get("cpu_s", 0.0)  # CPU time: fair on a shared machine
    state.setdefault("running", [])  # losses since the last log line, kept across a resume
    bar = tqdm(
        range(state["step"], cfg.steps),
        initial=state["step"],
        total=cfg.steps,
        disable=None if progress and d.main else True,
        mininterval=0.5,
        desc=f"{cfg.method}+{cfg.model}",
        dynamic_ncols=True,
    )
    for step in bar:
        idx = torch.randint(0, len(x), (cfg.batch_size,), generator=gen)  # the global batch
        y = None
        if labels is not None:  # drop labels to the null class for classifier-free guidance
            y = labels[idx.to(d.device)].clone()
            y[torch.rand(len(idx), generator=gen).to(d.device) < cfg.p_uncond] = num_classes
            y = y[shard]
        for group in opt.param_groups:  # cosine decay to 0 over the run
            group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        with autocast():
            loss = method.loss(net, x[idx[shard].to(d.device)], y, generator=noise_gen)
        logged = mean_over_ranks(loss.detach().float(), d)  # the same value on every rank
        if not torch.isfinite(logged):  # so every rank stops together: no one left waiting
            kept = (
                f"The last good checkpoint (step {saved_step}) is kept in {out_dir}"
                if saved_step is not None
                else "No checkpoint had been written yet"
            )
            raise Diverged(
                f"loss became {loss.item()} at step {step}; stopped. {kept}. Try a lower --lr "
                f"(now {cfg.lr:g}), and keep standardization on (drop --no-standardize)."
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))  # EMA warm-up
        with torch.no_grad():  # one fused call: a Python loop over tensors costs ~10% a step
            torch._foreach_lerp_(ema_params, model_params, 1 - decay)
        state["running"].append(logged.item())
        if (step + 1) % cfg.log_every == 0:
            state["losses"].append([step + 1, sum(state["running"]) / len(state["running"])])
            bar.set_postfix(loss=f"{state['losses'][-1][1]:.4f}")
            state["running"] = []
        state["step"], state["wall_s"] = step + 1, time.perf_counter() - t0
        state["cpu_s"] = time.process_time() - c0
        if d.main and cfg.snapshot_every and (step + 1) % cfg.snapshot_every == 0:
            save_snapshot(out_dir, ema, step + 1)
            state.setdefault("snapshots", []).append([step + 1, state["wall_s"]])
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:
            save()
    bar.close()
    if state["step"] == 0 or saved_step is None:
        save()
    teardown(d)  # every rank is done: evaluation afterwards (rank 0 only) cannot deadlock
    return Run(cfg, ema.cpu().eval(), method, std, shape, num_classes, state, d.main)


# endregion


def load_run(run_dir, use_ema: bool = True, snapshot: int | None = None) -> Run:
    """A trained run from its folder, ready to sample (EMA weights by default; `snapshot`:
    the EMA weights kept at that step, for runs trained with snapshot_every)."""
    run_dir = Path(run_dir)
    meta = read_json(run_dir / "config.json")
    try:
        cfg = TrainConfig(**meta["train"])
        shape, num_classes = tuple(meta["shape"]), int(meta["num_classes"])
        std = Standardizer.from_json(meta["standardizer"])
    except (KeyError, TypeError) as exc:
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
