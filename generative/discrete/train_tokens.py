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
from generative.config import check, option
from generative.continuous.train_denoiser import _restore, _tensors
from generative.discrete.data.token_data import CONDS, DATASETS, TokenData, load_token_data
from generative.discrete.models.transformer import TokenTransformer, TransformerConfig
from generative.discrete.objectives.d3pm import D3PM, KERNELS
from generative.discrete.objectives.schedules import SCHEDULES
from generative.errors import UserError

METHODS = ("maskgit", "ar", "mdlm", "d3pm")
DATA_ALIASES = {"glyphs": "digits-glyphs"}  # one name across commands (tokenize says glyphs)
MASKGIT_ONLY = ("--method maskgit", lambda c: c.method == "maskgit")
D3PM_ONLY = ("--method d3pm", lambda c: c.method == "d3pm")
COND_ONLY = ("--cond or --caption", lambda c: c.cond != "none")


@dataclass
class DiscreteConfig:
    """Everything that defines a discrete run; saved as config.json beside its checkpoints."""

    method: str = option("maskgit", "token objective", choices=METHODS)
    data: str = option(
        "shapes",
        "token data set: shapes (scenes) or glyphs (digit glyphs)",
        choices=("shapes", "glyphs", *DATASETS),
    )
    cond: str = option("class", "condition: none, class or caption", choices=CONDS, flag="")
    steps: int = option(10000, "optimizer steps", ge=1)
    batch_size: int = option(128, "sequences per optimizer step", ge=1)
    lr: float = option(1e-3, "peak learning rate", gt=0)
    warmup: int = option(200, "linear warm-up steps", ge=1)
    weight_decay: float = option(0.01, "AdamW weight decay", ge=0)
    ema_decay: float = option(0.999, "EMA decay per step (samples use the EMA weights)", ge=0, lt=1)
    p_uncond: float = option(0.1, "condition dropout to the null id", ge=0, le=1, applies=COND_ONLY)
    seed: int = option(0, "seeds the data draw, the initialization and the batches", ge=0)
    n_train: int = option(20000, "training scenes drawn (shapes has 1024 distinct)", ge=1000)
    hidden: int = option(96, "transformer width", ge=1)
    depth: int = option(3, "transformer blocks", ge=1, flag="--layers")
    heads: int = option(4, "attention heads (must divide --hidden)", ge=1)
    schedule: str = option(
        "cosine",
        "MaskGIT's training mask schedule",
        choices=SCHEDULES,
        applies=MASKGIT_ONLY,
        flag="--mask-schedule",
    )
    kernel: str = option("absorbing", "D3PM corruption kernel", choices=KERNELS, applies=D3PM_ONLY)
    T: int = option(100, "D3PM chain length", ge=1, applies=D3PM_ONLY, flag="--d3pm-T")
    threads: int = option(1, "torch CPU threads", ge=1)
    ckpt_every: int = option(1000, "steps between checkpoints", ge=1)
    snapshot_every: int = option(0, "also keep the EMA weights every N steps (0: off)", ge=0)
    log_every: int = option(10, "steps per logged loss", ge=1)


def validate(cfg: DiscreteConfig) -> DiscreteConfig:
    """Check every field (type, choice, range); the data set's alias becomes its registry name."""
    check(cfg)
    if cfg.hidden % cfg.heads:
        raise UserError(f"--hidden {cfg.hidden} must be divisible by --heads {cfg.heads}")
    return dataclasses.replace(cfg, data=DATA_ALIASES.get(cfg.data, cfg.data))


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
