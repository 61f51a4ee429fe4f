"""The token generators' trainer: MaskGIT, the autoregressive baseline, MDLM and D3PM share one
transformer; each is a config (DiscreteConfig) and a loss handed to the one loop
(generative/loop.py: AdamW, warm-up then cosine decay, clipping, EMA weights, resumable run
folders, devices and torchrun)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from generative import config
from generative.checkpoint import load_checkpoint, load_snapshot, read_json
from generative.config import check, option
from generative.discrete.data.token_data import CONDS, DATASETS, TokenData, load_token_data
from generative.discrete.models.transformer import TokenTransformer, TransformerConfig
from generative.discrete.objectives.d3pm import D3PM, KERNELS
from generative.discrete.objectives.schedules import SCHEDULES
from generative.errors import UserError
from generative.loop import LoopConfig, Streams, begin, fit

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
        "linear",  # a uniform mask ratio: better than cosine at T = 8 and 16 in exp31 (3 seeds)
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

    mask_id, bos_id = vocab_size, vocab_size + 1  # as TransformerConfig numbers them
    if cfg.method == "maskgit":
        return lambda net, x, c, g: maskgit_loss(net, x, mask_id, c, cfg.schedule, g)
    if cfg.method == "ar":
        return lambda net, x, c, g: ar_loss(net, x, bos_id, c, g)
    if cfg.method == "mdlm":
        return lambda net, x, c, g: mdlm_loss(net, x, mask_id, c, g)
    return build_d3pm(cfg, vocab_size).loss


@dataclass
class DiscreteRun:
    """A trained (or loaded) run: config, EMA network, data and training state."""

    cfg: DiscreteConfig
    net: TokenTransformer
    data: TokenData
    state: dict


# may change on resume (the rest defines the run): budget, learning rate, cadences, hardware
RESUMABLE = {"steps", "lr", "ckpt_every", "snapshot_every", "log_every", "threads", "device"}


def saved_config(run_dir) -> DiscreteConfig:
    """The DiscreteConfig in a run folder's config.json (a damaged or foreign one is refused)."""
    return config.saved_config(DiscreteConfig, run_dir)


def loop_config(cfg: DiscreteConfig) -> LoopConfig:
    # device: the objectives draw their noise on the CPU generator
    desc = f"{cfg.method} on {cfg.data}"
    return LoopConfig.of(cfg, clip=1.0, device=getattr(cfg, "device", "cpu"), desc=desc)


# region: discrete-train
def train_discrete(
    cfg: DiscreteConfig, out_dir, resume: bool = False, progress: bool = True, explicit=None
) -> DiscreteRun:
    """Train (or resume) a token generator in out_dir; returns the run with its EMA network."""
    out_dir = Path(out_dir)
    cfg = dataclasses.replace(cfg, data=DATA_ALIASES.get(cfg.data, cfg.data))
    cfg, lc, d = begin(
        cfg, out_dir, resume, saved=saved_config, resumable=RESUMABLE, check=validate,
        loop_config=loop_config, explicit=explicit,
    )  # fmt: skip
    data = load_token_data(cfg.data, cfg.cond, cfg.n_train, cfg.seed)
    ncfg = net_config(cfg, data)
    model = TokenTransformer(ncfg)
    objective = loss_fn(cfg, data.vocab_size)
    tokens = data.tokens.to(d.device)  # (N, seq_len)
    cond = data.cond.to(d.device) if data.cond is not None else None

    def loss(net, s: Streams):
        idx = torch.randint(0, len(tokens), (cfg.batch_size,), generator=s.gen)
        c = None
        if cond is not None:  # drop conditions to the null id (guidance, unconditional use)
            c = cond[idx.to(s.device)].clone()
            c[torch.rand(len(idx), generator=s.gen).to(s.device) < cfg.p_uncond] = ncfg.null_cond
            c = c[s.shard]
        return objective(net, tokens[idx[s.shard].to(s.device)], c, s.noise)

    meta = {"train": dataclasses.asdict(cfg), "net": dataclasses.asdict(ncfg), "kind": "discrete"}
    done = fit(lc, d, model, loss, out_dir, resume=resume, progress=progress, meta=meta)
    return DiscreteRun(cfg, done.ema.cpu().eval(), data, done.state)


# endregion


def load_discrete_run(run_dir, snapshot: int | None = None, data: bool = True) -> DiscreteRun:
    """A trained discrete run from its folder (EMA weights, or the snapshot at that step)."""
    run_dir = Path(run_dir)
    cfg = saved_config(run_dir)
    try:
        ncfg = TransformerConfig(**read_json(run_dir / "config.json")["net"])
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
