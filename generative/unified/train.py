"""Training the unified transformer: a config, a document sampler and a loss handed to the one
loop (generative/loop.py).

Every step draws batch_size scenes from a fixed training set and gives each a fresh direction
(text -> image with probability p_t2i), so the same scene is seen both ways over the run. The
loss is Chameleon's next-token loss or Show-o's masked-span + next-token loss (objectives.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from generative.checkpoint import load_checkpoint, read_json
from generative.config import check, option, saved_config
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.discrete.data.shapes import make_shapes
from generative.errors import UserError, unknown_choice
from generative.loop import LoopConfig, begin, fit, start
from generative.unified.documents import T2I, make_documents
from generative.unified.model import UnifiedConfig, UnifiedTransformer
from generative.unified.objectives import chameleon_loss, showo_loss
from generative.unified.vocab import Vocab

MODES = ("chameleon", "showo")
DATASETS = {"shapes": False, "shapes-two": True}  # name -> two_objects


@dataclass
class UnifiedTrainConfig:
    mode: str = option("chameleon", "causal everywhere (chameleon) or full attention inside "
                       "the image span with masked decoding (showo)", choices=MODES)  # fmt: skip
    data: str = option("shapes", "scenes: one object (shapes) or two (shapes-two)",
                       choices=DATASETS)  # fmt: skip
    # shapes has 1024 distinct single-object images
    n_train: int = option(4096, "training scenes", ge=1)
    steps: int = option(1500, "training steps", ge=1)
    batch_size: int = option(48, "documents per step", ge=1)
    lr: float = option(2e-3, "peak learning rate", gt=0)
    warmup: int = option(100, "linear warm-up steps", ge=0)
    clip: float = option(1.0, "gradient-norm clip (0: off)", ge=0)
    hidden: int = option(128, "transformer width", ge=8)
    depth: int = option(4, "transformer blocks", ge=1)
    heads: int = option(4, "attention heads (divides hidden)", ge=1)
    p_t2i: float = option(0.5, "share of text -> image documents", ge=0, le=1)
    p_drop: float = option(0.0, "caption dropout of text -> image documents (guidance)",
                           ge=0, lt=1)  # fmt: skip
    seed: int = option(0, "training seed")
    threads: int = option(1, "CPU threads", ge=1)


# may change on resume (the rest defines the run): the budget, the learning rate, the hardware
RESUMABLE = {"steps", "lr", "threads"}


def validate(cfg: UnifiedTrainConfig) -> UnifiedTrainConfig:
    """Every field's choices and range, and the shapes the model needs (UserError)."""
    check(cfg)
    if cfg.hidden % cfg.heads:
        raise UserError(f"--hidden {cfg.hidden} must divide by --heads {cfg.heads}")
    return cfg


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


def loop_config(cfg: UnifiedTrainConfig) -> LoopConfig:
    return LoopConfig.of(cfg, device="cpu", desc=f"unified {cfg.mode}")


def fit_documents(
    cfg: UnifiedTrainConfig,
    v: Vocab,
    max_len: int,
    sample,
    out_dir=None,
    progress: bool = False,
    meta=None,
    loop=None,
):
    """Train a fresh model on sample(generator, batch) -> Documents with the one loop:
    (model in eval mode, the loop's state). loop: (lc, d, resume) from `begin`, else a fresh
    start without a run folder to resume."""
    lc, d, resume = loop or (loop_config(cfg), None, False)
    d = start(lc) if d is None else d  # seeds the initialization
    model = build_model(v, cfg, max_len)
    loss_fn = document_loss(cfg, v, sample)
    fitted = fit(lc, d, model, loss_fn, out_dir, resume=resume, progress=progress, meta=meta)
    return fitted.model.eval(), fitted.state


def saved_unified(run_dir) -> UnifiedTrainConfig:
    """The config of a unified run folder; another kind of run is refused by name."""
    kind = read_json(Path(run_dir) / "config.json").get("kind")
    if kind != "unified":
        raise UserError(
            f"{run_dir} is not a unified run (its kind is {kind or 'a train run'}); "
            "train one with `generative unified train --out RUN`"
        )
    return saved_config(UnifiedTrainConfig, run_dir)


def train_unified(
    cfg: UnifiedTrainConfig,
    out_dir=None,
    progress: bool = False,
    resume: bool = False,
    explicit: set | None = None,
):
    """(model, state, corpus): the trained network in eval mode and the loop's record. resume:
    continue the run in out_dir with the RESUMABLE fields of cfg that were given: `explicit`
    (the field names the command line set), else those that differ from the defaults."""
    if resume and out_dir is None:
        raise UserError("resuming needs the run folder (--out RUN)")
    cfg, lc, d = begin(
        cfg, out_dir, resume, saved=saved_unified, resumable=RESUMABLE, check=validate,
        loop_config=loop_config, explicit=explicit,
    )  # fmt: skip
    v = Vocab()
    corpus = make_corpus(v, cfg.data, cfg.n_train, cfg.seed)
    sample = shapes_sampler(cfg, v, corpus)
    meta = {"kind": "unified", "train": asdict(cfg)}
    loop = (lc, d, resume)
    model, state = fit_documents(cfg, v, corpus.max_len, sample, out_dir, progress, meta, loop)
    return model, state, corpus


def load_unified(run_dir) -> tuple[UnifiedTransformer, UnifiedTrainConfig]:
    """A trained unified model (eval mode) and its config, from its run folder."""
    cfg = saved_unified(run_dir)
    tensors, _ = load_checkpoint(run_dir)
    weights = {k[len("model.") :]: t for k, t in tensors.items() if k.startswith("model.")}
    model = build_model(Vocab(), cfg, int(weights["pos_embed"].shape[1]))
    model.load_state_dict(weights)
    return model.eval(), cfg
