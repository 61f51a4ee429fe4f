"""Training the latent flow-matching pipeline (--generator latent-fm): the text encoder as for
the masked generator (train.text_encoder), then a small autoencoder on the training scenes
(latent_ae.py, frozen after), then the latent DiT with the one loop.

The loss is conditional flow matching on the linear path (flow_matching.cfm_loss) over the
normalized latents; with probability p_drop a caption is replaced by the null features, so the
same network is the unconditional velocity guidance needs. The autoencoder's ceiling (its
round trip of clean scenes, scored by the checker) is kept in the run's notes: no latent
generator can do better than its decoder.
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from generative.continuous.flow_matching import LinearPath, cfm_loss
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.discrete.data.shapes import to_float
from generative.hybrid.latent_ae import AEConfig, HalfAutoencoder, ceiling, train_autoencoder
from generative.hybrid.latent_flow import LatentFlow, LatentFlowConfig, LatentHybrid
from generative.hybrid.train import Corpus, HybridConfig, text_encoder
from generative.loop import LoopConfig, fit, start

GRID = (4, 4)  # latent positions: columns 0-1 the left half, 2-3 the right


def latent_model(cfg: HybridConfig, encoder, autoencoder=None) -> LatentHybrid:
    """The pipeline's modules, sized by the config (a fresh autoencoder unless one is given)."""
    g = (cfg.text_dim, cfg.conditioning, cfg.hidden, cfg.depth, cfg.heads)
    flow = LatentFlow(LatentFlowConfig(cfg.latent_channels, GRID, *g))
    ae = HalfAutoencoder(cfg.latent_channels) if autoencoder is None else autoencoder
    return LatentHybrid(encoder, flow, ae)


def latent_loss(cfg: HybridConfig, latents: torch.Tensor, corpus: Corpus):
    """loss_fn(net, streams) for the loop: CFM's velocity regression under the caption."""
    path = LinearPath()

    def loss_fn(net, streams):
        idx = torch.randint(len(latents), (cfg.batch_size,), generator=streams.gen)
        caps = corpus.caps.take(idx)
        drop = torch.rand(cfg.batch_size, generator=streams.gen) < cfg.p_drop
        field = lambda z, t, _: net(z, t, caps, drop)  # noqa: E731
        return cfm_loss(field, path, latents[idx], generator=streams.noise)

    return loss_fn


def train_latent(cfg: HybridConfig, lc: LoopConfig, corpus: Corpus, out_dir, progress: bool):
    """(model in eval mode, the loop's state with the notes: the encoder's pre-training, the
    autoencoder's loss and ceiling)."""
    enc, notes = text_encoder(cfg, corpus)
    images = PatchTokenizer().decode(corpus.tokens)  # uint8 (N, 16, 16, 3), exact
    ae_cfg = AEConfig(steps=cfg.ae_steps, seed=cfg.seed, threads=cfg.threads)
    ae, ae_state = train_autoencoder(ae_cfg, images, cfg.latent_channels)
    bound = ceiling(ae, seed=cfg.seed + 99)
    notes.update(ae_loss=ae_state["losses"][-1][1], ae_near_valid=bound["near_valid"],
                 ae_strict_valid=bound["strict_valid"], ae_binding=bound["binding"])  # fmt: skip
    d = start(lc)  # the generator's own stream from here on
    model = latent_model(cfg, enc, ae)
    latents = model.latents(torch.from_numpy(to_float(images)), fit_stats=True)
    meta = {"train": asdict(cfg), "notes": notes}
    fitted = fit(lc, d, model, latent_loss(cfg, latents, corpus), out_dir, progress=progress,
                 meta=meta)  # fmt: skip
    fitted.state["notes"] = notes
    return fitted.model.eval(), fitted.state
