"""Training the unified transformer: a config, a document sampler and a loss handed to the one
loop (generative/loop.py).

Every step draws batch_size scenes from a fixed training set and gives each a fresh direction
(text -> image with probability p_t2i), so the same scene is seen both ways over the run. The
loss is Chameleon's next-token loss or Show-o's masked-span + next-token loss (objectives.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.discrete.data.shapes import make_shapes
from generative.errors import unknown_choice
from generative.loop import LoopConfig, fit, start
from generative.unified.documents import T2I, make_documents
from generative.unified.model import UnifiedConfig, UnifiedTransformer
from generative.unified.objectives import chameleon_loss, showo_loss
from generative.unified.vocab import Vocab

MODES = ("chameleon", "showo")
DATASETS = {"shapes": False, "shapes-two": True}  # name -> two_objects


@dataclass
class UnifiedTrainConfig:
    mode: str = "chameleon"
    data: str = "shapes"
    n_train: int = 4096  # training scenes (shapes has 1024 distinct single-object images)
    steps: int = 1500
    batch_size: int = 48
    lr: float = 2e-3
    warmup: int = 100
    clip: float = 1.0
    hidden: int = 128
    depth: int = 4
    heads: int = 4
    p_t2i: float = 0.5  # share of text -> image documents
    p_drop: float = 0.0  # caption dropout of text -> image documents (guidance)
    seed: int = 0
    threads: int = 1


@dataclass
class Corpus:
    """The training scenes as caption ids and image codes (N, 64), and the document length."""

    captions: list[list[int]]
    codes: torch.Tensor
    max_len: int


def make_corpus(v: Vocab, data: str, n: int, seed: int) -> Corpus:
    if data not in DATASETS:
        raise unknown_choice("unified data set", data, DATASETS)
    scenes = make_shapes(n, seed=seed, two_objects=DATASETS[data])
    codes = PatchTokenizer().encode(scenes.images)
    ids = [v.encode_text(c) for c in scenes.captions]
    return Corpus(ids, codes, max(map(len, ids)) + codes.shape[1] + 4)  # + BOS BOI EOI EOS


def shapes_sampler(cfg: UnifiedTrainConfig, v: Vocab, corpus: Corpus):
    """sample(generator, batch) -> Documents: scenes of the corpus, each in a fresh direction."""

    def sample(g, batch):
        idx = torch.randint(len(corpus.captions), (batch,), generator=g)
        u = torch.rand(2, batch, generator=g).numpy()
        dirs = np.where(u[0] < cfg.p_t2i, T2I, 1 - T2I)
        caps = [corpus.captions[i] for i in idx]
        return make_documents(v, caps, corpus.codes[idx], dirs, u[1] < cfg.p_drop)

    return sample


def document_loss(cfg: UnifiedTrainConfig, v: Vocab, sample):
    """loss_fn(net, streams) for the loop: this process's shard of a fresh batch of documents,
    under the mode's loss."""
    if cfg.mode not in MODES:
        raise unknown_choice("unified mode", cfg.mode, MODES)

    def loss_fn(net, streams):
        docs = sample(streams.gen, cfg.batch_size).take(streams.shard)
        if cfg.mode == "chameleon":
            return chameleon_loss(net, docs, v.PAD)
        return showo_loss(net, docs, v.PAD, v.MASK, generator=streams.noise)

    return loss_fn


def build_model(v: Vocab, cfg: UnifiedTrainConfig, max_len: int) -> UnifiedTransformer:
    return UnifiedTransformer(UnifiedConfig(v.size, max_len, cfg.hidden, cfg.depth, cfg.heads))


def fit_documents(
    cfg: UnifiedTrainConfig,
    v: Vocab,
    max_len: int,
    sample,
    out_dir=None,
    progress: bool = False,
    meta=None,
):
    """Train a fresh model on sample(generator, batch) -> Documents with the one loop:
    (model in eval mode, the loop's state)."""
    lc = LoopConfig.of(cfg, device="cpu", desc=f"unified {cfg.mode}")
    d = start(lc)  # seeds the initialization
    model = build_model(v, cfg, max_len)
    loss_fn = document_loss(cfg, v, sample)
    fitted = fit(lc, d, model, loss_fn, out_dir, progress=progress, meta=meta)
    return fitted.model.eval(), fitted.state


def train_unified(cfg: UnifiedTrainConfig, out_dir=None, progress: bool = False):
    """(model, state, corpus): the trained network in eval mode and the loop's record."""
    v = Vocab()
    corpus = make_corpus(v, cfg.data, cfg.n_train, cfg.seed)
    sample = shapes_sampler(cfg, v, corpus)
    meta = {"unified": asdict(cfg)}
    model, state = fit_documents(cfg, v, corpus.max_len, sample, out_dir, progress, meta)
    return model, state, corpus
