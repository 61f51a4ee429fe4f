"""The straight-through estimator: with it the encoder receives the decoder's gradient; without
it the encoder learns only from the commitment loss, and reconstructions stay poor (lesson 11)."""

from __future__ import annotations

import time

from benchmarks.exp20_codebook_collapse import lab_points
from benchmarks.lab import Result, figure_path, median, pmap

NAME = "exp21_straight_through"
CLAIM = (
    "Straight-through copies the gradient at the quantized output onto the encoder output "
    "exactly; switched off, the encoder gets no reconstruction gradient and a VQ autoencoder "
    "reconstructs far worse (lesson 11)"
)
BASE = dict(data="moons", quantizer="vq", encoder="mlp", K=64, update="loss", record_every=50)


def _one(job):
    import torch

    from generative.discrete.tokenizers.codebook2d import Codebook2DConfig, train_codebook

    torch.set_num_threads(1)
    cfg = Codebook2DConfig(**job)
    return train_codebook(cfg, raw=lab_points(cfg))


def gradient_check(straight_through: bool) -> dict:
    """One batch through an untrained encoder + VQ + decoder: the reconstruction loss's gradient
    at the encoder output z against its gradient at the quantized output z_q."""
    import torch
    import torch.nn.functional as F

    from generative.discrete.tokenizers.codebook2d import Codebook2DConfig, Quantized2D, points

    cfg = Codebook2DConfig(**BASE, straight_through=straight_through)
    torch.manual_seed(0)
    model = Quantized2D(cfg)
    x = points(cfg, lab_points(cfg))[0][:256]
    z = model.encoder(x)
    z.retain_grad()
    out = model.quantizer(z)
    out.z_q.retain_grad()
    F.mse_loss(model.decoder(out.z_q), x).backward()  # the reconstruction loss alone
    g_z = z.grad if z.grad is not None else torch.zeros_like(z)
    return {
        "max_abs_diff_grad_z_vs_grad_zq": float((g_z - out.z_q.grad).abs().max()),
        "grad_norm_at_encoder_output": float(g_z.norm()),
        "grad_norm_at_quantized_output": float(out.z_q.grad.norm()),
    }


def run(b):
    from generative.discrete.tokenizers.codebook_figures import codebook_panel, plt

    t0 = time.perf_counter()
    steps = 60 if b.quick else 1500
    jobs = [
        {**BASE, "steps": steps, "seed": s, "straight_through": st}
        for st in (True, False)
        for s in b.train_seeds
    ]
    res = pmap(_one, jobs)
    n = len(b.train_seeds)
    arms = {"straight-through": res[:n], "no straight-through": res[n:]}
    numbers = {
        label: {
            "recon_mse_median": median([r.stats["recon_mse"] for r in rs]),
            "recon_mse_by_seed": [r.stats["recon_mse"] for r in rs],
            "usage_median": median([r.stats["usage"] for r in rs]),
            "perplexity_median": median([r.stats["perplexity"] for r in rs]),
            "wall_s_median": median([r.wall_s for r in rs]),
            "gradients": gradient_check(label == "straight-through"),
        }
        for label, rs in arms.items()
    }
    on, off = numbers["straight-through"], numbers["no straight-through"]

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    for label, rs in arms.items():
        pts = rs[0].losses
        axes[0].plot([p[0] for p in pts], [p[1] for p in pts], label=label, lw=1)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step")
    axes[0].set_title("reconstruction MSE (training batches)", fontsize=8)
    axes[0].legend(fontsize=7)
    for ax, (label, rs) in zip(axes[1:], arms.items(), strict=True):
        codebook_panel(ax, rs[0], label)
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=120)
    plt.close(fig)

    ratio = off["recon_mse_median"] / max(on["recon_mse_median"], 1e-12)
    exact = on["gradients"]["max_abs_diff_grad_z_vs_grad_zq"] == 0.0
    cut = off["gradients"]["grad_norm_at_encoder_output"] == 0.0
    measured = (
        f"grad at z equals grad at z_q to {on['gradients']['max_abs_diff_grad_z_vs_grad_zq']:.1e} "
        f"with STE; without it the encoder's reconstruction gradient is "
        f"{off['gradients']['grad_norm_at_encoder_output']:.1f}; reconstruction MSE "
        f"{on['recon_mse_median']:.4f} with STE vs {off['recon_mse_median']:.4f} without "
        f"({ratio:.0f}x)"
    )
    verdict = (
        "holds"
        if exact and cut and ratio > 3
        else "holds with caveat"
        if exact and cut and ratio > 1.2
        else "does not hold"
    )
    Result(NAME, CLAIM, measured, verdict, numbers, {**BASE, "steps": steps}).write(b, t0)
