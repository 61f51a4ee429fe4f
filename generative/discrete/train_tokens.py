"""Training loop for the token generators: MaskGIT, the autoregressive baseline, MDLM and D3PM
share one transformer, one optimizer setup (AdamW, warm-up then cosine decay, EMA weights) and
the project's run folders (safetensors + JSON, resumable)."""

from __future__ import annotations

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
from generative.continuous.train_denoiser import _restore, _tensors
from generative.discrete.data.token_data import CONDS, DATASETS, TokenData, load_token_data
from generative.discrete.models.transformer import TokenTransformer, TransformerConfig
from generative.discrete.objectives.d3pm import D3PM, KERNELS
from generative.errors import UserError, unknown_choice

METHODS = ("maskgit", "ar", "mdlm", "d3pm")


@dataclass
class DiscreteConfig:
    """Everything that defines a discrete run; saved as config.json beside its checkpoints."""

    method: str = "maskgit"
    data: str = "shapes"
    cond: str = "class"  # none | class | caption
    steps: int = 10000
    batch_size: int = 128
    lr: float = 1e-3
    warmup: int = 200
    weight_decay: float = 0.01
    ema_decay: float = 0.999
    p_uncond: float = 0.1  # condition dropout to the null id
    seed: int = 0
    n_train: int = 20000
    hidden: int = 96
    depth: int = 3
    heads: int = 4
    schedule: str = "cosine"  # MaskGIT's training mask schedule
    kernel: str = "absorbing"  # D3PM
    T: int = 100  # D3PM chain length
    threads: int = 1
    ckpt_every: int = 1000
    snapshot_every: int = 0
    log_every: int = 10


def validate(cfg: DiscreteConfig) -> DiscreteConfig:
    from generative.discrete.objectives.schedules import SCHEDULES

    for kind, value, valid in (
        ("method", cfg.method, METHODS),
        ("token data set", cfg.data, DATASETS),
        ("condition", cfg.cond, CONDS),
        ("mask schedule", cfg.schedule, SCHEDULES),
        ("D3PM kernel", cfg.kernel, KERNELS),
    ):
        if value not in valid:
            raise unknown_choice(kind, value, valid)
    if min(cfg.steps, cfg.batch_size, cfg.threads, cfg.T, cfg.hidden, cfg.depth) <= 0:
        raise UserError("steps, batch size, threads, T, hidden and depth must be positive")
    if cfg.hidden % cfg.heads:
        raise UserError(f"--hidden {cfg.hidden} must be divisible by --heads {cfg.heads}")
    return cfg


def net_config(cfg: DiscreteConfig, data: TokenData) -> TransformerConfig:
    return TransformerConfig(
        vocab_size=data.vocab_size,
        seq_len=data.seq_len,
        cond_vocab=data.cond_vocab,
        cond_len=data.cond_len,
        hidden=cfg.hidden,
        depth=cfg.depth,
        heads=cfg.heads,
        causal=cfg.method == "ar",
        time_cond=cfg.method == "d3pm",
    )


def structured_affinity(data_name: str):
    """Token affinities for the structured D3PM kernel: patches that look alike (pixels)."""
    from generative.discrete.data.token_data import _tokenizer
    from generative.discrete.objectives.d3pm import gaussian_affinity

    tok = _tokenizer(data_name)
    ids = torch.arange(tok.vocab_size)[:, None].expand(-1, tok.seq_len)
    patches = torch.from_numpy(tok.decode(ids)[:, :2, :2].reshape(tok.vocab_size, -1))
    return gaussian_affinity(patches.double() / 255)


def build_d3pm(cfg: DiscreteConfig, vocab_size: int) -> D3PM:
    aff = structured_affinity(cfg.data) if cfg.kernel == "structured" else None
    return D3PM(cfg.kernel, vocab_size, cfg.T, aff)


def loss_fn(cfg: DiscreteConfig, vocab_size: int):
    """The objective: fn(net, x, cond, generator) -> scalar loss."""
    from generative.discrete.objectives.autoregressive import ar_loss
    from generative.discrete.objectives.maskgit import maskgit_loss
    from generative.discrete.objectives.mdlm import mdlm_loss

    if cfg.method == "maskgit":
        return lambda net, x, c, g: maskgit_loss(net, x, c, cfg.schedule, g)
    if cfg.method == "ar":
        return ar_loss
    if cfg.method == "mdlm":
        return mdlm_loss
    return build_d3pm(cfg, vocab_size).loss


@dataclass
class DiscreteRun:
    """A trained (or loaded) run: config, EMA network, data and training state."""

    cfg: DiscreteConfig
    net: TokenTransformer
    data: TokenData
    state: dict


# region: discrete-train
def train_discrete(
    cfg: DiscreteConfig, out_dir, resume: bool = False, progress: bool = True
) -> DiscreteRun:
    """Train (or resume) a token generator in out_dir; returns the run with its EMA network."""
    out_dir = Path(out_dir)
    if resume:
        saved = DiscreteConfig(**read_json(out_dir / "config.json")["train"])
        cfg = dataclasses.replace(saved, steps=cfg.steps)
    cfg = validate(cfg)
    if not resume and (out_dir / "state.json").exists():
        raise UserError(f"{out_dir} already holds a run; pass --resume, or choose another --out")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    data = load_token_data(cfg.data, cfg.cond, cfg.n_train, cfg.seed)
    ncfg = net_config(cfg, data)
    model, ema = TokenTransformer(ncfg), TokenTransformer(ncfg).requires_grad_(False)
    ema.load_state_dict(model.state_dict())
    loss = loss_fn(cfg, data.vocab_size)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    state = {"step": 0, "losses": [], "wall_s": 0.0, "running": []}
    if resume:
        tensors, state = load_checkpoint(out_dir)
        _restore(tensors, model, ema, opt, gen)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(
        out_dir / "config.json",
        {"train": dataclasses.asdict(cfg), "net": dataclasses.asdict(ncfg), "kind": "discrete"},
    )
    t0 = time.perf_counter() - state["wall_s"]
    bar = tqdm(
        range(state["step"], cfg.steps),
        initial=state["step"],
        total=cfg.steps,
        disable=None if progress else True,
        mininterval=0.5,
        desc=f"{cfg.method} on {cfg.data}",
        dynamic_ncols=True,
    )
    for step in bar:
        idx = torch.randint(0, len(data.tokens), (cfg.batch_size,), generator=gen)
        c = None
        if (
            data.cond is not None
        ):  # drop conditions to the null id (for guidance, unconditional use)
            c = data.cond[idx].clone()
            c[torch.rand(len(idx), generator=gen) < cfg.p_uncond] = ncfg.null_cond
        warm = min(1.0, (step + 1) / cfg.warmup)
        for group in opt.param_groups:
            group["lr"] = cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        value = loss(model, data.tokens[idx], c, gen)
        if not torch.isfinite(value):
            raise UserError(f"loss became {value.item()} at step {step}; try a lower --lr")
        opt.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        state["running"].append(value.item())
        if (step + 1) % cfg.log_every == 0:
            state["losses"].append([step + 1, sum(state["running"]) / len(state["running"])])
            bar.set_postfix(loss=f"{state['losses'][-1][1]:.4f}")
            state["running"] = []
        state["step"], state["wall_s"] = step + 1, time.perf_counter() - t0
        if cfg.snapshot_every and (step + 1) % cfg.snapshot_every == 0:
            save_snapshot(out_dir, ema, step + 1)
            state.setdefault("snapshots", []).append([step + 1, state["wall_s"]])
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:
            save_checkpoint(out_dir, _tensors(model, ema, opt, gen), state)
    bar.close()
    return DiscreteRun(cfg, ema.eval(), data, state)


# endregion


def load_discrete_run(run_dir, snapshot: int | None = None, data: bool = True) -> DiscreteRun:
    """A trained discrete run from its folder (EMA weights, or the snapshot at that step)."""
    run_dir = Path(run_dir)
    meta = read_json(run_dir / "config.json")
    try:
        cfg = DiscreteConfig(**meta["train"])
        ncfg = TransformerConfig(**meta["net"])
    except (KeyError, TypeError) as exc:
        raise UserError(f"{run_dir}/config.json is not a discrete run config ({exc})") from None
    if snapshot is not None:  # a snapshot loads even while its run is still training
        tensors = load_snapshot(run_dir, snapshot)
        done = (run_dir / "state.json").exists()
        state = read_json(run_dir / "state.json") if done else {"step": snapshot}
    else:
        tensors, state = load_checkpoint(run_dir)
    net = TokenTransformer(ncfg)
    try:
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    except RuntimeError as exc:
        raise UserError(f"{run_dir}: weights do not fit the config ({exc})") from None
    torch.set_num_threads(cfg.threads)
    d = load_token_data(cfg.data, cfg.cond, n_train=1 if not data else cfg.n_train, seed=cfg.seed)
    return DiscreteRun(cfg, net.eval(), d, state)
