"""The two generators side by side under one encoder, one interface and one budget: what a
benchmark calls to put latent flow matching beside the masked-token generator."""

from __future__ import annotations

import time
from dataclasses import asdict, replace

from generative.hybrid.evaluate import evaluate
from generative.hybrid.train import HybridConfig, train_hybrid


def compare_generators(
    cfg: HybridConfig, guidance=(1.0, 2.0, 4.0), n_pairs: int = 100, steps: int = 32,
    solver: str = "heun", generators=("latent-fm", "masked"),
) -> dict:  # fmt: skip
    """generator -> {train, train_cpu_s, final_loss, notes (latent-fm: the autoencoder's
    ceiling), scores: {guidance: evaluate(...) on n_pairs swap pairs}}. steps: MaskGIT rounds
    (fixed decoder) or ODE steps of `solver`; the same count for both."""
    out = {}
    for g in generators:
        run = replace(cfg, generator=g)
        c0 = time.process_time()
        model, state = train_hybrid(run)
        cpu = time.process_time() - c0
        scores = {
            str(w): evaluate(model, n_pairs, run.seed, guidance=w, steps=steps, solver=solver)
            if g == "latent-fm"
            else evaluate(model, n_pairs, run.seed, guidance=w, steps=steps, decoder="fixed")
            for w in guidance
        }
        out[g] = {
            "train": asdict(run), "train_cpu_s": cpu, "final_loss": state["losses"][-1][1],
            "notes": state["notes"], "scores": scores,
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        }  # fmt: skip
    return out
