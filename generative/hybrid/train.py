"""Training a two-tower pipeline: pre-train the text encoder if its kind needs it, freeze it if
its kind says so, then train the image generator under it with the one loop: the masked-token
generator here, or latent flow matching (latent_train.py) with --generator latent-fm.

The generator's loss is MaskGIT's (mask a cosine-drawn share of the image tokens, cross-entropy
on them), conditioned on the encoder's features; with probability p_drop a caption is replaced by
the null features so that the same network is also the unconditional model guidance needs.
A frozen encoder is part of the saved model but has requires_grad off: the loop's optimizer
never sees its weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from generative.config import check, option
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.discrete.data.shapes import make_shapes
from generative.discrete.objectives.maskgit import mask_tokens
from generative.discrete.objectives.schedules import gamma
from generative.errors import UserError
from generative.hybrid import pretrain
from generative.hybrid.captions import Captions, caption_text, encode, scene_attrs
from generative.hybrid.encoders import ENCODERS, FROZEN, make_encoder
from generative.hybrid.generator import CONDITIONING, GeneratorConfig, MaskedGenerator
from generative.hybrid.half_tokens import TOKENS, make_tokenizer
from generative.loop import LoopConfig, fit, start

ADVICE = "lower --lr or raise --clip"
GENERATORS = {
    "masked": "masked-token transformer over the exact patch tokens (Muse)",
    "latent-fm": "flow matching DiT over a small autoencoder's latents (SD3)",
}
LATENT_ONLY = ("--generator latent-fm", lambda c: c.generator == "latent-fm")
MASKED_ONLY = ("--generator masked", lambda c: c.generator == "masked")


@dataclass
class HybridConfig:
    encoder: str = option("pretrained", "text encoder", choices=ENCODERS)
    generator: str = option("masked", "image generator", choices=GENERATORS)
    conditioning: str = option("xattn", "how the generator reads the text", choices=CONDITIONING)
    tokens: str = option("patch", "the masked generator's image tokens", choices=TOKENS,
                         applies=MASKED_ONLY)  # fmt: skip
    steps: int = option(3000, "generator training steps", ge=1)
    pretrain_steps: int = option(2000, "encoder pre-training steps (pretrained, contrastive, "
                                 "unified)", ge=1)  # fmt: skip
    batch_size: int = option(64, "scenes per step", ge=1)
    lr: float = option(1e-3, "peak learning rate", gt=0)
    warmup: int = option(100, "linear warm-up steps", ge=0)
    clip: float = option(1.0, "gradient-norm clip (0: off)", ge=0)
    hidden: int = option(128, "generator width", ge=8)
    depth: int = option(4, "generator blocks", ge=1)
    heads: int = option(4, "attention heads (divides hidden and text-dim)", ge=1)
    text_dim: int = option(64, "text encoder width", ge=8)
    text_depth: int = option(2, "text transformer blocks", ge=1)
    p_drop: float = option(0.1, "caption dropout (guidance needs > 0)", ge=0, lt=1)
    n_train: int = option(8192, "training scenes", ge=16)
    ae_steps: int = option(3000, "autoencoder training steps", ge=1, applies=LATENT_ONLY)
    latent_channels: int = option(4, "latent channels per position", ge=1, applies=LATENT_ONLY)
    seed: int = option(0, "training seed")
    threads: int = option(1, "CPU threads", ge=1)


@dataclass
class Corpus:
    """Training scenes: image tokens (N, 64) and their captions."""

    tokens: torch.Tensor
    caps: Captions


def make_corpus(n: int, seed: int) -> Corpus:
    scenes = make_shapes(n, seed=seed, two_objects=True)
    caps = encode([caption_text(a) for a in scene_attrs(scenes.labels)])
    return Corpus(PatchTokenizer().encode(scenes.images), caps)


class Hybrid(nn.Module):
    """The two towers in one module (one checkpoint): encoder(caps) -> generator(tokens, .);
    tokenizer: the generator's image tokens (no weights: PatchTokenizer or HalfTokenizer)."""

    def __init__(self, encoder: nn.Module, generator: MaskedGenerator, tokenizer=None):
        super().__init__()
        self.encoder, self.generator = encoder, generator
        self.tokenizer = tokenizer or make_tokenizer("patch")

    def forward(self, tokens, caps: Captions, drop=None):
        feats = self.encoder(caps)
        if drop is not None:
            feats = self.generator.drop(feats, drop)
        return self.generator(tokens, feats)


def generator(cfg: HybridConfig) -> MaskedGenerator:
    """A fresh generator over the config's exact tokens (patch or half), sized by the config."""
    tok = make_tokenizer(cfg.tokens)
    g = (cfg.text_dim, cfg.conditioning, cfg.hidden, cfg.depth, cfg.heads)
    return MaskedGenerator(GeneratorConfig(tok.vocab_size, tok.seq_len, *g))


def text_encoder(cfg: HybridConfig, corpus: Corpus) -> tuple[nn.Module, dict]:
    """A fresh encoder, the same for the same seed, pre-trained and frozen as its kind says;
    (encoder, notes)."""
    torch.manual_seed(cfg.seed)
    enc = make_encoder(cfg.encoder, cfg.text_dim, cfg.text_depth, cfg.heads)
    size = (cfg.text_dim, cfg.text_depth, cfg.heads, cfg.pretrain_steps)
    enc, notes = pretrain.prepare(cfg.encoder, enc, size, corpus.caps, corpus.tokens, cfg.seed)
    if cfg.encoder in FROZEN:
        enc.requires_grad_(False).eval()
    return enc, notes


def build(cfg: HybridConfig, corpus: Corpus) -> tuple[Hybrid, dict]:
    """A fresh masked pipeline, the same for the same seed; (model, notes)."""
    enc, notes = text_encoder(cfg, corpus)
    return Hybrid(enc, generator(cfg), make_tokenizer(cfg.tokens)), notes


def hybrid_loss(cfg: HybridConfig, corpus: Corpus, mask_id: int):
    """loss_fn(net, streams) for the loop: MaskGIT's masked cross-entropy under the caption."""

    def loss_fn(net, streams):
        idx = torch.randint(len(corpus.tokens), (cfg.batch_size,), generator=streams.gen)
        x, caps = corpus.tokens[idx], corpus.caps.take(idx)
        drop = torch.rand(cfg.batch_size, generator=streams.gen) < cfg.p_drop
        ratio = gamma("cosine", torch.rand(len(x), generator=streams.noise), x.shape[1]).float()
        xm, mask = mask_tokens(x, ratio, mask_id, streams.noise)
        logits = net(xm, caps, drop)  # (B, N, V)
        return F.cross_entropy(logits[mask], x[mask])

    return loss_fn


def check_sizes(cfg: HybridConfig) -> HybridConfig:
    """Every flag in range, and --heads dividing the widths of the attention layers (refused
    here, before any pre-training, instead of as a reshape error deep in one); bow and oracle
    encoders have no attention, so their --text-dim is free."""
    check(cfg)
    if cfg.tokens != "patch" and cfg.generator != "masked":
        raise UserError(f"--tokens {cfg.tokens} is the masked generator's; drop it or pass "
                        "--generator masked")  # fmt: skip
    widths = [("--hidden", cfg.hidden)]
    if cfg.encoder not in ("bow", "oracle"):
        widths.append(("--text-dim", cfg.text_dim))
    for name, width in widths:
        if width % cfg.heads:
            raise UserError(f"--heads {cfg.heads} does not divide {name} {width}; pick widths "
                            "that are multiples of --heads")  # fmt: skip
    return cfg


def train_hybrid(cfg: HybridConfig, out_dir=None, progress: bool = False):
    """(model in eval mode, the loop's state with the encoder's pre-training notes)."""
    check_sizes(cfg)
    lc = LoopConfig.of(cfg, device="cpu", advice=ADVICE, desc=f"hybrid {cfg.encoder}")
    corpus = make_corpus(cfg.n_train, cfg.seed)
    if cfg.generator == "latent-fm":
        from generative.hybrid.latent_train import train_latent

        return train_latent(cfg, lc, corpus, out_dir, progress)
    model, notes = build(cfg, corpus)
    d = start(lc)  # the generator's own stream from here on
    if cfg.tokens != "patch":  # the encoder's pre-training read patch tokens; the generator not
        images = PatchTokenizer().decode(corpus.tokens)
        corpus = Corpus(model.tokenizer.encode(images), corpus.caps)
    loss_fn = hybrid_loss(cfg, corpus, model.generator.cfg.mask_id)
    meta = {"train": asdict(cfg), "notes": notes}
    fitted = fit(lc, d, model, loss_fn, out_dir, progress=progress, meta=meta)
    fitted.state["notes"] = notes
    return fitted.model.eval(), fitted.state


def load_hybrid(run_dir) -> tuple[nn.Module, HybridConfig]:
    """A trained pipeline from its run folder (config.json + the checksummed checkpoint); the
    encoder is rebuilt empty and gets its weights from the checkpoint, no pre-training."""
    from generative.checkpoint import load_checkpoint
    from generative.config import saved_config

    cfg = saved_config(HybridConfig, run_dir)
    tensors, _ = load_checkpoint(run_dir)
    enc = make_encoder(cfg.encoder, cfg.text_dim, cfg.text_depth, cfg.heads)
    if cfg.generator == "latent-fm":
        from generative.hybrid.latent_train import latent_model

        model = latent_model(cfg, enc)
    else:
        model = Hybrid(enc, generator(cfg), make_tokenizer(cfg.tokens))
    weights = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(weights)
    return model.eval(), cfg
