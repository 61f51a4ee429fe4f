"""Pre-training a text encoder before it is frozen, two ways the field does it.

- Questions about captions (the T5 analogue: text only). The encoder reads a caption; a small
  head asks one question of its features ("colour of circle" -> red, "shape of blue" -> square,
  "side of red" -> left) by attending over them with the question as the query. A question about
  one object has a right answer only if the features keep which word goes with which: binding
  is learned from text alone. (Masked-word prediction on these captions teaches nothing about
  binding: the attributes are independent, so each masked word is at its entropy floor.)
- Contrastive (the CLIP analogue): caption and image embeddings pulled together, in-batch
  negatives pushed apart (InfoNCE, both directions). A pooled vector only has to tell this
  caption from the batch's others; swap partners are rarely in the same batch, so nothing forces
  it to bind.

Both train with the one loop (generative/loop.py) and return the encoder alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from generative.discrete.data import shapes as S
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.hybrid.captions import IDS, WORDS, Captions, swap_pairs
from generative.hybrid.encoders import TextTransformer
from generative.hybrid.unified_encoder import pretrain_unified
from generative.loop import LoopConfig, fit, start

QUESTIONS = ("colour of", "shape of", "side of")


def prepare(name: str, enc: nn.Module, size: tuple, caps: Captions, tokens, seed: int):
    """The encoder `name` ready for the generator: pre-trained if its kind needs it, else `enc`
    as made; (encoder, notes). size: (dim, depth, heads, pre-training steps); caps and tokens
    are the generator's training corpus (contrastive and unified pre-training read its images)."""
    if name == "pretrained":
        enc, acc = pretrain_questions(*size, seed=seed)
        return enc, {"question_accuracy": acc}
    if name == "contrastive":
        vocab = PatchTokenizer().vocab_size
        enc, acc = pretrain_contrastive(*size, caps, tokens, vocab, seed)
        return enc, {"retrieval_accuracy": acc}
    if name == "unified":
        return pretrain_unified(*size, caps, tokens, seed)
    return enc, {}


# region: caption-questions
class QuestionHead(nn.Module):
    """(features, question kind, subject word) -> answer logits over the words: the question
    attends the caption's features and reads the answer off what it finds."""

    def __init__(self, dim: int):
        super().__init__()
        self.kind = nn.Embedding(len(QUESTIONS), dim)
        self.word = nn.Embedding(len(WORDS), dim)
        self.q = nn.Linear(dim, dim)
        self.out = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(), nn.Linear(dim, len(WORDS)))

    def forward(self, feats, kind, subject):
        query = self.kind(kind) + self.word(subject)  # (B, D)
        att = torch.einsum("bd,bld->bl", self.q(query), feats.seq) / math.sqrt(query.shape[1])
        att = att.masked_fill(~feats.mask, float("-inf")).softmax(1)  # (B, L)
        read = torch.einsum("bl,bld->bd", att, feats.seq)  # (B, D)
        return self.out(torch.cat([read, query], 1))  # (B, len(WORDS))


def questions(caps: Captions, g: torch.Generator):
    """One question per caption (each caption has two distinct shapes and colours): (kind,
    subject word id, answer word id), each (B,)."""
    a = caps.attrs
    B = len(a)
    kind = torch.randint(len(QUESTIONS), (B,), generator=g)
    obj = torch.randint(2, (B,), generator=g)  # ask about the left (0) or the right (1) object
    shape, colour = a[torch.arange(B), 2 * obj], a[torch.arange(B), 2 * obj + 1]
    shape_w = torch.tensor([IDS[w] for w in S.SHAPES])[shape]
    colour_w = torch.tensor([IDS[w] for w in S.COLOURS])[colour]
    side_w = torch.tensor([IDS["left"], IDS["right"]])[obj]
    by_colour = torch.rand(B, generator=g) < 0.5  # "side of": ask by colour or by shape
    subject = torch.where(kind == 0, shape_w, colour_w)
    subject = torch.where((kind == 2) & ~by_colour, shape_w, subject)
    answer = torch.stack([colour_w, shape_w, side_w])[kind, torch.arange(B)]
    return kind, subject, answer


# endregion


def _captions(n: int, seed: int) -> Captions:
    """n captions with distinct shapes and colours (questions then have one answer each)."""
    caps = swap_pairs((n + 1) // 2, seed)
    return caps.take(torch.randperm(len(caps), generator=torch.Generator().manual_seed(seed))[:n])


def pretrain_questions(dim, depth, heads, steps, seed=0, batch=128, lr=3e-3, progress=False):
    """A TextTransformer trained on caption questions: (encoder, held-out answer accuracy)."""
    lc = LoopConfig(steps=steps, lr=lr, batch_size=batch, warmup=50, clip=1.0, seed=seed)
    lc.desc = "pretrain questions"
    d = start(lc)  # seeds the initialization
    model = nn.ModuleDict({"enc": TextTransformer(dim, depth, heads), "head": QuestionHead(dim)})
    train = _captions(4096, seed + 100)

    def loss_fn(net, streams):
        caps = train.take(torch.randint(len(train), (batch,), generator=streams.gen))
        kind, subject, answer = questions(caps, streams.gen)
        return F.cross_entropy(net["head"](net["enc"](caps), kind, subject), answer)

    model = fit(lc, d, model, loss_fn, progress=progress).model.eval()
    test = _captions(1000, seed + 200)
    kind, subject, answer = questions(test, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        acc = (model["head"](model["enc"](test), kind, subject).argmax(1) == answer).float()
    return model["enc"], float(acc.mean())


# region: contrastive
class ImageTower(nn.Module):
    """Patch tokens (B, N) -> one embedding (B, D): token vectors in place, flattened, an MLP."""

    def __init__(self, vocab: int, seq_len: int, dim: int, width: int = 16):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.mlp = nn.Sequential(nn.Linear(seq_len * width, 256), nn.GELU(), nn.Linear(256, dim))

    def forward(self, tokens):
        return self.mlp(self.embed(tokens).flatten(1))  # (B, D)


def info_nce(text_emb, image_emb, temperature: float = 0.1):
    """Symmetric InfoNCE: row i of each matches row i of the other."""
    t, i = F.normalize(text_emb, dim=1), F.normalize(image_emb, dim=1)
    logits = t @ i.T / temperature  # (B, B)
    target = torch.arange(len(t))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


# endregion


def pretrain_contrastive(dim, depth, heads, steps, caps, tokens, vocab, seed=0, batch=128, lr=3e-3):
    """A TextTransformer trained with InfoNCE against the images of (caps, tokens): (encoder,
    top-1 retrieval accuracy of the right image among the held-out pairs, 128 or a quarter)."""
    lc = LoopConfig(steps=steps, lr=lr, batch_size=batch, warmup=50, clip=1.0, seed=seed)
    lc.desc = "pretrain contrastive"
    d = start(lc)
    enc = TextTransformer(dim, depth, heads)
    model = nn.ModuleDict({"enc": enc, "img": ImageTower(vocab, tokens.shape[1], dim)})
    n_train = len(caps) - min(128, len(caps) // 4)

    def loss_fn(net, streams):
        idx = torch.randint(n_train, (batch,), generator=streams.gen)
        return info_nce(net["enc"](caps.take(idx)).pooled, net["img"](tokens[idx]))

    model = fit(lc, d, model, loss_fn, progress=False).model.eval()
    held = torch.arange(n_train, len(caps))
    with torch.no_grad():
        t = F.normalize(model["enc"](caps.take(held)).pooled, dim=1)
        i = F.normalize(model["img"](tokens[held]), dim=1)
        acc = ((t @ i.T).argmax(1) == torch.arange(len(held))).float().mean()
    return model["enc"], float(acc)
