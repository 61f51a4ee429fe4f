"""Training a learned image tokenizer (`generative tokenize`), saving and loading it: a config
(TokenizerConfig) and a reconstruction loss handed to the one loop (generative/loop.py).

A run folder holds config.json (the TokenizerConfig), state.json + checkpoint-<step>.safetensors
(via generative/checkpoint.py: atomic, checksummed), loss.png and recon.png (held-out images
above their reconstructions). Statistics are measured over the whole held-out set.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from generative import config
from generative.checkpoint import annotate_state, load_checkpoint
from generative.config import check, option
from generative.discrete.data.tokenizer_images import CHANNELS, IMAGE_DATA, load_images
from generative.discrete.tokenizers.autoencoder import QUANTIZERS, ConvAutoencoder, make_quantizer
from generative.discrete.tokenizers.code_stats import CodeStats
from generative.errors import UserError
from generative.loop import LoopConfig, Streams, begin, fit

DATA_ALIASES = {"digits-glyphs": "glyphs"}  # train's old name for the same glyphs
VQ_ONLY = ("--quantizer vq or ema", lambda c: c.quantizer in ("vq", "ema"))
FSQ_ONLY = ("--quantizer fsq", lambda c: c.quantizer == "fsq")
EMA_ONLY = ("--quantizer ema", lambda c: c.quantizer == "ema")


@dataclass
class TokenizerConfig:
    data: str = option(
        "shapes",
        "images: shapes, shapes2 (two objects), glyphs (digit glyphs), digits",
        choices=(*IMAGE_DATA, *DATA_ALIASES),
    )
    quantizer: str = option("fsq", "vector quantizer", choices=QUANTIZERS)
    K: int = option(256, "codebook size (FSQ: the product of --levels)", ge=2, applies=VQ_ONLY)
    levels: tuple = option((8, 6, 5), "FSQ levels per dimension, comma-separated", applies=FSQ_ONLY)
    dim: int = option(8, "code dimension (FSQ: the number of levels)", ge=1, applies=VQ_ONLY)
    grid: int = option(4, "tokens per side: 4 (16 tokens per image) or 8 (64)", choices=(4, 8))
    width: int = option(64, "conv channels", ge=1)
    beta: float = option(0.25, "commitment weight", ge=0)
    decay: float = option(0.99, "codebook EMA decay", ge=0, lt=1, applies=EMA_ONLY)
    dead_fraction: float = option(
        0.1, "restart a code under this share of its fair count", ge=0, applies=EMA_ONLY
    )
    straight_through: bool = option(True, "straight-through gradients through the quantizer")
    steps: int = option(2000, "optimizer steps", ge=1)
    batch_size: int = option(64, "images per optimizer step", ge=1)
    lr: float = option(2e-3, "peak learning rate", gt=0)
    n_train: int = option(20000, "training images drawn", ge=1)
    n_eval: int = option(2000, "held-out images for the statistics", ge=1)
    seed: int = option(0, "seeds the data draw, the initialization and the batches", ge=0)
    threads: int = option(1, "torch CPU threads", ge=1)
    ckpt_every: int = option(500, "steps between checkpoints", ge=1)

    @property
    def num_codes(self) -> int:
        return math.prod(self.levels) if self.quantizer == "fsq" else self.K


def resolved(cfg: TokenizerConfig) -> TokenizerConfig:
    """Check every field; the data set's alias becomes its registry name."""
    check(cfg)
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 2 for v in cfg.levels):
        levels = ",".join(map(str, cfg.levels))
        raise UserError(f"--levels {levels}: each level must be at least 2, e.g. 8,6,5")
    return dataclasses.replace(cfg, data=DATA_ALIASES.get(cfg.data, cfg.data))


def build(cfg: TokenizerConfig) -> ConvAutoencoder:
    per_batch = cfg.batch_size * cfg.grid**2  # vectors quantized per step
    dead = cfg.dead_fraction * per_batch / cfg.K if cfg.quantizer == "ema" else 0.0
    q = make_quantizer(
        cfg.quantizer,
        cfg.K,
        cfg.levels,
        cfg.dim,
        cfg.beta,
        cfg.decay,
        dead,
        cfg.straight_through,
    )
    return ConvAutoencoder(q, CHANNELS[cfg.data], cfg.grid, cfg.width)


@dataclass
class TokenizerRun:
    cfg: TokenizerConfig
    model: ConvAutoencoder
    stats: dict  # held-out: usage, perplexity, quantization error, recon_mse
    state: dict  # step, losses, wall_s


@torch.no_grad()
def evaluate(model: ConvAutoencoder, x: torch.Tensor, batch: int = 500) -> dict:
    """Usage, perplexity and error over the whole set, and the pixel MSE of reconstructions."""
    model.eval()
    stats, sq = CodeStats(model.quantizer.num_codes), 0.0
    for i in range(0, len(x), batch):
        recon, out = model(x[i : i + batch])
        stats.update(out)
        sq += float(F.mse_loss(recon.clamp(0, 1), x[i : i + batch], reduction="sum"))
    model.train()
    return stats.result() | {"recon_mse": sq / x.numel()}


# may change on resume (the rest defines the tokenizer): budget, learning rate, cadence, hardware
RESUMABLE = {"steps", "lr", "ckpt_every", "threads", "device"}


def loop_config(cfg: TokenizerConfig) -> LoopConfig:
    desc = f"{cfg.quantizer} K={cfg.num_codes} on {cfg.data}"
    return LoopConfig.of(cfg, device=getattr(cfg, "device", "cpu"), log_every=100, desc=desc)


def saved_config(run_dir) -> TokenizerConfig:
    return config.saved_config(TokenizerConfig, run_dir, section=None)


def train_tokenizer(
    cfg: TokenizerConfig, out_dir=None, progress: bool = True, resume: bool = False, explicit=None
) -> TokenizerRun:
    """Train on fresh draws of cfg.data; with out_dir, checkpoint along the way and at the end
    (resume: continue the run there, with a new budget, lr or cadence if given)."""
    cfg, lc, d = begin(
        cfg, out_dir, resume, saved=saved_config, resumable=RESUMABLE, check=resolved,
        loop_config=loop_config, explicit=explicit,
    )  # fmt: skip
    model = build(cfg)  # first: bad settings fail before anything is written
    x = load_images(cfg.data, cfg.n_train, cfg.seed).to(d.device)  # (N, C, 16, 16) in [0, 1]
    held = load_images(cfg.data, cfg.n_eval, cfg.seed, heldout=True)

    def loss(net, s: Streams):
        batch = x[torch.randint(len(x), (cfg.batch_size,), generator=s.gen)[s.shard]]
        recon, out = net(batch)
        rec = F.mse_loss(recon, batch)
        return rec + out.loss, rec  # the quantizer's losses train; the pixel MSE is logged

    meta = dataclasses.asdict(cfg)
    done = fit(lc, d, model, loss, out_dir, resume=resume, progress=progress, meta=meta)
    model = done.model.cpu()
    stats = evaluate(model, held)
    done.state["heldout"] = stats
    if out_dir is not None and done.main:
        annotate_state(out_dir, heldout=stats)
    return TokenizerRun(cfg, model.eval(), stats, done.state)


def load_tokenizer(run_dir) -> TokenizerRun:
    """A trained tokenizer from its run folder (model in eval mode)."""
    run_dir = Path(run_dir)
    cfg = saved_config(run_dir)
    tensors, state = load_checkpoint(run_dir)
    if any(k.startswith("model.") for k in tensors):  # runs from before the one loop: bare keys
        tensors = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    model = build(cfg)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        raise UserError(f"{run_dir}: weights do not fit the config ({exc})") from None
    return TokenizerRun(cfg, model.eval(), state.get("heldout", {}), state)


def reconstruction_figure(run: TokenizerRun, path, n: int = 12):
    """Held-out images (top row) above their reconstructions."""
    from generative.discrete.tokenizers.codebook_figures import image_rows

    held = load_images(run.cfg.data, n, run.cfg.seed, heldout=True)
    with torch.no_grad():
        recon = run.model.decode(run.model.encode(held))
    image_rows({"input": held.numpy(), "recon": recon.numpy()}, path)
