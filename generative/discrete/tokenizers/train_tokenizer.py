"""Training a learned image tokenizer (`generative tokenize`), saving and loading it.

A run folder holds config.json (the TokenizerConfig), state.json + checkpoint-<step>.safetensors
(via generative/checkpoint.py: atomic, checksummed) and recon.png (held-out images above their
reconstructions). Statistics are measured over the whole held-out set.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from generative.checkpoint import load_checkpoint, read_json, save_checkpoint, write_json
from generative.discrete.data.tokenizer_images import CHANNELS, load_images
from generative.discrete.tokenizers.autoencoder import ConvAutoencoder, make_quantizer
from generative.discrete.tokenizers.code_stats import CodeStats
from generative.errors import UserError


@dataclass
class TokenizerConfig:
    data: str = "shapes"  # shapes | shapes2 | glyphs | digits
    quantizer: str = "fsq"  # vq | ema | fsq
    K: int = 256  # VQ codebook size (FSQ: prod(levels))
    levels: tuple = (8, 6, 5)  # FSQ only
    dim: int = 8  # VQ code dimension (FSQ: len(levels))
    grid: int = 4  # tokens per side: 4 (16 tokens per image) or 8 (64)
    width: int = 64
    beta: float = 0.25
    decay: float = 0.99
    dead_fraction: float = 0.1  # ema: restart a code under this share of its fair count
    straight_through: bool = True
    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-3
    n_train: int = 20000
    n_eval: int = 2000
    seed: int = 0
    threads: int = 1
    ckpt_every: int = 500

    @property
    def num_codes(self) -> int:
        return math.prod(self.levels) if self.quantizer == "fsq" else self.K


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


def train_tokenizer(cfg: TokenizerConfig, out_dir=None, progress: bool = True) -> TokenizerRun:
    """Train on fresh draws of cfg.data; with out_dir, checkpoint along the way and at the end."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = build(cfg)  # first: bad settings fail before anything is written
    if out_dir is not None:
        out_dir = Path(out_dir)
        if (out_dir / "state.json").exists():
            raise UserError(f"{out_dir} already holds a run; choose another --out")
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / "config.json", dataclasses.asdict(cfg))
    x = load_images(cfg.data, cfg.n_train, cfg.seed)
    held = load_images(cfg.data, cfg.n_eval, cfg.seed, heldout=True)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    state = {"step": 0, "losses": [], "wall_s": 0.0, "cpu_s": 0.0}
    t0, c0, running = time.perf_counter(), time.process_time(), []
    bar = tqdm(
        range(cfg.steps),
        disable=None if progress else True,
        desc=f"{cfg.quantizer} K={cfg.num_codes} on {cfg.data}",
        mininterval=0.5,
        dynamic_ncols=True,
    )
    for step in bar:
        for group in opt.param_groups:  # cosine decay to 0
            group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        batch = x[torch.randint(len(x), (cfg.batch_size,), generator=gen)]
        recon, out = model(batch)
        rec = F.mse_loss(recon, batch)
        opt.zero_grad(set_to_none=True)
        (rec + out.loss).backward()
        opt.step()
        running.append(rec.item())
        if (step + 1) % 100 == 0 or step + 1 == cfg.steps:
            state["losses"].append([step + 1, sum(running) / len(running)])
            running = []
            bar.set_postfix(mse=f"{state['losses'][-1][1]:.4f}")
        state["step"], state["wall_s"] = step + 1, time.perf_counter() - t0
        state["cpu_s"] = time.process_time() - c0  # this process's CPU: fair on a busy machine
        if out_dir is not None and ((step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps):
            save_checkpoint(out_dir, model.state_dict(), state)
    bar.close()
    stats = evaluate(model, held)
    state["heldout"] = stats
    if out_dir is not None:
        save_checkpoint(out_dir, model.state_dict(), state)
    return TokenizerRun(cfg, model.eval(), stats, state)


def load_tokenizer(run_dir) -> TokenizerRun:
    """A trained tokenizer from its run folder (model in eval mode)."""
    run_dir = Path(run_dir)
    raw = read_json(run_dir / "config.json")
    try:
        cfg = TokenizerConfig(**{**raw, "levels": tuple(raw["levels"])})
    except (KeyError, TypeError) as exc:
        raise UserError(f"{run_dir}/config.json is not a tokenizer config ({exc})") from None
    tensors, state = load_checkpoint(run_dir)
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
