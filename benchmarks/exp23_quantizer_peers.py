"""Our quantizers against vector-quantize-pytorch (the `bench` extra): FSQ on identical inputs,
and EMA-VQ with dead-code restart on the 2D trainer's data."""

from __future__ import annotations

import time

from benchmarks.exp20_codebook_collapse import lab_points
from benchmarks.lab import Result, figure_path, median

NAME = "exp23_quantizer_peers"
CLAIM = (
    "Our FSQ gives the same indices and codes as vector-quantize-pytorch's FSQ on identical "
    "inputs and levels, and our EMA-VQ with dead-code restart matches its VectorQuantize (EMA, "
    "dead-code threshold) in usage, perplexity and error on 2D data"
)
LEVELS = ([8, 8], [8, 6, 5], [8, 5, 5, 5], [8, 8, 8, 8], [7, 5, 5, 5, 5])
EMA = dict(K=64, decay=0.99, dead_threshold=1.0)


def fsq_identity(n: int) -> dict:
    """Indices and codes of both FSQs on the same Gaussian inputs (scale 2: all levels hit);
    gradients of a random linear loss through both."""
    import torch
    from vector_quantize_pytorch import FSQ as PeerFSQ

    from generative.discrete.tokenizers.fsq import FSQ

    out = {}
    for levels in LEVELS:
        g = torch.Generator().manual_seed(len(levels))
        z = (2 * torch.randn(1, n, len(levels), generator=g)).requires_grad_(True)
        w = torch.randn(1, n, len(levels), generator=g)
        ours = FSQ(levels)(z)
        (ours.z_q * w).sum().backward()
        grad_ours, z.grad = z.grad.clone(), None
        codes, idx = PeerFSQ(levels)(z)
        (codes * w).sum().backward()
        out[str(levels)] = {
            "n": n,
            "indices_equal": float((ours.indices == idx.long()).float().mean()),
            "codes_max_abs_diff": float((ours.z_q - codes).detach().abs().max()),
            "grad_max_abs_diff": float((grad_ours - z.grad).abs().max()),
        }
    return out


def peer_ema(data: str, seed: int, steps: int) -> dict:
    """vector-quantize-pytorch's VectorQuantize on the 2D points, trained by its EMA alone."""
    import torch
    from vector_quantize_pytorch import VectorQuantize

    from generative.discrete.tokenizers.code_stats import CodeStats, QuantizerOutput
    from generative.discrete.tokenizers.codebook2d import Codebook2DConfig, points

    cfg = Codebook2DConfig(data=data, seed=seed, steps=steps, update="ema", **EMA)
    torch.manual_seed(seed)
    x, held = points(cfg, lab_points(cfg))
    vq = VectorQuantize(
        dim=2,
        codebook_size=cfg.K,
        decay=cfg.decay,
        threshold_ema_dead_code=cfg.dead_threshold,
        commitment_weight=cfg.beta,
    )
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    vq.train()
    for _ in range(steps):
        vq(x[torch.randint(len(x), (cfg.batch_size,), generator=gen)][None])
    vq.eval()
    with torch.no_grad():
        q, idx, _ = vq(held[None])
    stats = CodeStats(cfg.K)
    err = (q[0] - held).pow(2).sum(1).mean()
    stats.update(QuantizerOutput(q[0], idx[0], err, err))
    return stats.result() | {"wall_s": time.perf_counter() - t0}


def _ours(job):
    import torch

    from generative.discrete.tokenizers.codebook2d import Codebook2DConfig, train_codebook

    torch.set_num_threads(1)
    cfg = Codebook2DConfig(update="ema", **EMA, **job)
    r = train_codebook(cfg, raw=lab_points(cfg))
    return r.stats | {"wall_s": r.wall_s}


def run(b):
    import torch

    from generative.discrete.tokenizers.codebook_figures import plt

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    steps = 60 if b.quick else 1500
    fsq = fsq_identity(2000 if b.quick else 100_000)
    numbers = {"fsq": fsq}
    keys = ("usage", "perplexity", "error")
    for data in ("8gaussians", "moons"):
        ours = [_ours(dict(data=data, seed=s, steps=steps)) for s in b.train_seeds]
        peer = [peer_ema(data, s, steps) for s in b.train_seeds]
        for who, rs in (("ours", ours), ("vector-quantize-pytorch", peer)):
            numbers[f"{data}: {who}"] = {f"{k}_median": median([r[k] for r in rs]) for k in keys}
            numbers[f"{data}: {who}"]["wall_s_median"] = median([r["wall_s"] for r in rs])

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    for ax, k in zip(axes, keys, strict=True):
        labels = [f"{d}\n{w}" for d in ("8gaussians", "moons") for w in ("ours", "peer")]
        vals = [
            numbers[f"{d}: {w}"][f"{k}_median"]
            for d in ("8gaussians", "moons")
            for w in ("ours", "vector-quantize-pytorch")
        ]
        ax.bar(range(4), vals, color=["tab:blue", "tab:orange"] * 2)
        ax.set_xticks(range(4), labels, fontsize=7)
        ax.set_title(f"EMA-VQ + restart, K = 64: {k}", fontsize=8)
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=120)
    plt.close(fig)

    same = min(v["indices_equal"] for v in fsq.values())
    code_diff = max(v["codes_max_abs_diff"] for v in fsq.values())
    ppl = {
        d: (
            numbers[f"{d}: ours"]["perplexity_median"],
            numbers[f"{d}: vector-quantize-pytorch"]["perplexity_median"],
        )
        for d in ("8gaussians", "moons")
    }
    close = all(abs(a - p) <= 0.1 * p for a, p in ppl.values())
    measured = (
        f"FSQ: {100 * same:.3f}% identical indices over {len(LEVELS)} level sets, codes differ "
        f"by at most {code_diff:.1e}; EMA-VQ + restart perplexity ours vs peer: 8 Gaussians "
        f"{ppl['8gaussians'][0]:.1f} vs {ppl['8gaussians'][1]:.1f}, moons "
        f"{ppl['moons'][0]:.1f} vs {ppl['moons'][1]:.1f} of 64"
    )
    identical = same == 1.0 and code_diff == 0.0
    verdict = (
        "holds" if identical and close else "holds with caveat" if same > 0.999 else "does not hold"
    )
    settings = {"levels": LEVELS, "ema": EMA, "steps": steps, "peer": _peer_version()}
    Result(NAME, CLAIM, measured, verdict, numbers, settings).write(b, t0)


def _peer_version() -> str:
    from importlib.metadata import version

    return "vector-quantize-pytorch " + version("vector-quantize-pytorch")
