"""The 2D codebook trainer (lesson 11's widget): quantize 2D points with K codes and watch them.

Every knob is a field of Codebook2DConfig: the codebook size K, its init (random, far corner,
k-means), the update rule (codebook loss or EMA with its decay), beta, the dead-code threshold,
straight-through on or off, or FSQ with its levels. VQ runs on the points themselves by default;
encoder="mlp" puts a small MLP encoder and decoder around the quantizer (FSQ needs one to be more
than a fixed grid). The codes' positions in data space (decoder(code)) are recorded every
record_every steps for the widget; statistics come from a held-out pass.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from generative.discrete.tokenizers.code_stats import CodeStats
from generative.discrete.tokenizers.fsq import FSQ
from generative.discrete.tokenizers.vq import VectorQuantizer
from generative.errors import UserError, unknown_choice

DATA = ("8gaussians", "moons")


@dataclass
class Codebook2DConfig:
    data: str = "8gaussians"
    quantizer: str = "vq"  # vq | fsq
    K: int = 64
    init: str = "random"  # random | far | kmeans
    update: str = "loss"  # loss | ema
    decay: float = 0.99
    beta: float = 0.25
    dead_threshold: float = 0.0  # running count under which a code is restarted (0: never)
    straight_through: bool = True
    levels: tuple = (8, 8)  # FSQ only; K is then prod(levels)
    encoder: str = "none"  # none | mlp
    width: int = 64
    steps: int = 1500
    batch_size: int = 256
    lr: float = 3e-3
    n_train: int = 4000
    n_eval: int = 4000
    seed: int = 0
    record_every: int = 25

    def __post_init__(self):
        if self.data not in DATA:
            raise unknown_choice("2D data set", self.data, DATA)
        if self.quantizer not in ("vq", "fsq"):
            raise unknown_choice("quantizer", self.quantizer, ("vq", "fsq"))
        if self.encoder not in ("none", "mlp"):
            raise unknown_choice("encoder", self.encoder, ("none", "mlp"))
        if self.K < 1:
            raise UserError(f"K must be at least 1, got {self.K}")


def mlp(d_in: int, d_out: int, width: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d_in, width),
        nn.SiLU(),
        nn.Linear(width, width),
        nn.SiLU(),
        nn.Linear(width, d_out),
    )


class Quantized2D(nn.Module):
    """encoder -> quantizer -> decoder on points (B, 2)."""

    def __init__(self, cfg: Codebook2DConfig):
        super().__init__()
        if cfg.quantizer == "fsq":
            self.quantizer = FSQ(cfg.levels, straight_through=cfg.straight_through)
        else:
            self.quantizer = VectorQuantizer(
                cfg.K,
                2,
                beta=cfg.beta,
                update=cfg.update,
                decay=cfg.decay,
                dead_threshold=cfg.dead_threshold,
                straight_through=cfg.straight_through,
                init=cfg.init,
            )
        d = self.quantizer.dim
        if cfg.encoder == "mlp":
            self.encoder, self.decoder = mlp(2, d, cfg.width), mlp(d, 2, cfg.width)
        elif d == 2:
            self.encoder, self.decoder = nn.Identity(), nn.Identity()
        else:
            raise UserError(f"FSQ with {d} levels on 2D points needs --encoder mlp (or 2 levels)")

    def forward(self, x):
        out = self.quantizer(self.encoder(x))
        return self.decoder(out.z_q), out

    @torch.no_grad()
    def code_positions(self) -> np.ndarray:
        """Every code's decoded position in data space, (K, 2)."""
        return self.decoder(self.quantizer.codebook.detach()).numpy().copy()


@dataclass
class Codebook2DResult:
    cfg: Codebook2DConfig
    stats: dict  # held-out usage, perplexity, quantization error, reconstruction error
    trajectory: np.ndarray  # (T, K, 2) code positions, standardized data space
    trajectory_steps: list
    losses: list = field(default_factory=list)  # (step, reconstruction MSE) on training batches
    wall_s: float = 0.0
    cpu_s: float = 0.0  # this process's CPU time: fair on a busy machine
    model: Quantized2D | None = None
    heldout: np.ndarray | None = None  # (n_eval, 2) standardized held-out points
    counts: np.ndarray | None = None  # (K,) held-out hits per code

    def to_json(self) -> dict:
        """Everything the lesson-11 widget needs, as plain JSON."""
        return {
            "config": asdict(self.cfg),
            "stats": self.stats,
            "steps": self.trajectory_steps,
            "trajectory": np.round(self.trajectory.astype(np.float64), 3).tolist(),
            "counts": self.counts.tolist(),
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
        }


def draw_points(name: str, n: int, seed: int) -> np.ndarray:
    """n points (n, 2) of a 2D set, drawn here with sklearn (Part B never imports Part A). moons
    is the same draw as generative.continuous's; 8gaussians comes from make_blobs around the
    same eight centers (radius 2, std 0.1), so it is a different draw of the same distribution."""
    from sklearn.datasets import make_blobs, make_moons

    rs = np.random.default_rng(seed).integers(2**31)
    if name == "moons":
        return make_moons(n, noise=0.03, random_state=rs)[0].astype(np.float32)
    angle = 2 * np.pi * np.arange(8) / 8
    centers = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return make_blobs(n, centers=centers, cluster_std=0.1, random_state=rs)[0].astype(np.float32)


def points(cfg: Codebook2DConfig, raw=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardized training and held-out points (fresh draws), (N, 2) each. raw: the two raw
    arrays to use instead of draw_points' (the lab passes Part A's toy sets)."""
    train, held = raw or (
        draw_points(cfg.data, cfg.n_train, cfg.seed),
        draw_points(cfg.data, cfg.n_eval, cfg.seed + 10_000),
    )
    mean, std = train.mean(axis=0), train.std(axis=0)  # the training set's, per axis
    std = np.where(std > 0, std, 1.0)
    return tuple(torch.from_numpy(((a - mean) / std).astype(np.float32)) for a in (train, held))


@torch.no_grad()
def evaluate(model: Quantized2D, x: torch.Tensor) -> tuple[dict, np.ndarray]:
    """Held-out statistics, with the reconstruction MSE, and the per-code counts."""
    model.eval()
    stats = CodeStats(model.quantizer.num_codes)
    recon, out = model(x)
    stats.update(out)
    model.train()
    res = stats.result() | {"recon_mse": float(F.mse_loss(recon, x))}
    return res, stats.counts.numpy()


def train_codebook(cfg: Codebook2DConfig, progress: bool = False, raw=None) -> Codebook2DResult:
    """Train and record the codes' positions. Its own few lines, not generative/loop.py: the
    widget needs the code positions every record_every steps (from step 0, before any update)
    and plain Adam at a constant lr, which the loop's steps do not expose.
    raw: (train, held) raw 2D points to use instead of draw_points' (see points)."""
    torch.manual_seed(cfg.seed)
    x, held = points(cfg, raw)
    model = Quantized2D(cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr) if params else None
    gen = torch.Generator().manual_seed(cfg.seed)
    traj, traj_steps, losses = [], [], []
    t0, c0 = time.perf_counter(), time.process_time()
    steps = range(cfg.steps + 1)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc=f"{cfg.quantizer} K={model.quantizer.num_codes}")
    # region: train_step
    for step in steps:
        batch = x[torch.randint(len(x), (cfg.batch_size,), generator=gen)]
        if step % cfg.record_every == 0 or step == cfg.steps:
            if step > 0 or cfg.init != "kmeans":  # k-means codes exist after the first batch
                traj.append(model.code_positions())
                traj_steps.append(step)
        if step == cfg.steps:
            break
        recon, out = model(batch)
        rec = F.mse_loss(recon, batch)
        if opt is not None:
            opt.zero_grad(set_to_none=True)
            (rec + out.loss).backward()
            opt.step()
        if step % cfg.record_every == 0:
            losses.append((step, rec.item()))
    # endregion
    stats, counts = evaluate(model, held)
    return Codebook2DResult(
        cfg,
        stats,
        np.stack(traj),
        traj_steps,
        losses,
        time.perf_counter() - t0,
        time.process_time() - c0,
        model,
        held.numpy(),
        counts,
    )


def main(argv=None):
    """python -m generative.discrete.tokenizers.codebook2d --update ema --png cb.png"""
    import argparse
    import json
    import sys

    d = Codebook2DConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    for f in dataclasses.fields(Codebook2DConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool" or isinstance(getattr(d, f.name), bool):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes", "on"))
        elif isinstance(getattr(d, f.name), tuple):
            p.add_argument(flag, type=lambda s: tuple(int(v) for v in s.split(",")))
        else:
            p.add_argument(flag, type=type(getattr(d, f.name)))
    p.add_argument("--png", help="draw codes, cells and counts to this PNG")
    p.add_argument("--json", help="write the trajectory and statistics (the widget's input)")
    a = vars(p.parse_args(argv))
    png, out = a.pop("png"), a.pop("json")
    try:
        res = train_codebook(Codebook2DConfig(**{k: v for k, v in a.items() if v is not None}))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(res.stats | {"wall_s": round(res.wall_s, 1)}))
    if png:
        from generative.discrete.tokenizers.codebook_figures import codebook_figure

        codebook_figure({res.cfg.quantizer: res}, png, ncols=1)
    if out:
        with open(out, "w") as f:
            json.dump(res.to_json(), f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
