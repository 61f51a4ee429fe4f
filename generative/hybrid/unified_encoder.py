"""Encoder (f): the hidden states of the unified model (generative/unified, issue 15) as the text
features of a separate generator.

A small UnifiedTransformer in Chameleon mode (causal, text and image tokens in one vocabulary)
is pre-trained on documents of the hybrid corpus in both directions, with the loss on every
token (generative/unified's own documents, sampler, loss and loop):

    text -> image   BOS caption BOI image EOI EOS
    image -> text   BOS BOI image EOI caption EOS

then frozen. The features of a caption are the model's last hidden states (after the final
LayerNorm, what its softmax reads) at the caption's word positions of the prefix `BOS caption`:
what the unified model knows when it starts drawing. Attention is causal, so the state at a word
has read only the words before it; the last word's state has read the whole caption.

The vocabulary adapter is a lookup table: the unified Vocab already holds every hybrid word (its
caption grammar covers the two-object captions) and the same patch tokenizer's image codes, so a
hybrid word id maps to one unified id and an image code c to image_offset + c.
"""

from __future__ import annotations

import torch
from torch import nn

from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.hybrid.captions import MAX_LEN, PAD, WORDS, Captions
from generative.hybrid.encoders import Features
from generative.unified.evaluate import write_captions
from generative.unified.model import UnifiedConfig, UnifiedTransformer
from generative.unified.train import Corpus, UnifiedTrainConfig, fit_documents, shapes_sampler
from generative.unified.vocab import Vocab

VOCAB = Vocab()
DOC_LEN = MAX_LEN + PatchTokenizer().seq_len + 4  # + BOS BOI EOI EOS: the longest document


def word_table(v: Vocab = VOCAB) -> torch.Tensor:
    """hybrid word id -> unified id (PAD -> the unified PAD)."""
    return torch.tensor([v.PAD if w == "PAD" else v.ids[w] for w in WORDS], dtype=torch.long)


class UnifiedEncoder(nn.Module):
    """Captions -> the unified model's last hidden states at the words of `BOS caption`."""

    def __init__(self, dim: int, depth: int = 2, heads: int = 4):
        super().__init__()
        self.model = UnifiedTransformer(UnifiedConfig(VOCAB.size, DOC_LEN, dim, depth, heads))
        self.register_buffer("to_unified", word_table(), persistent=False)

    def prefix(self, caps: Captions) -> torch.Tensor:
        """(B, 1 + MAX_LEN) unified ids: BOS, then the caption's words, right-padded with PAD
        (causal attention: a word never sees the padding after it)."""
        words = self.to_unified[caps.words]  # (B, L)
        bos = torch.full((len(words), 1), VOCAB.BOS, dtype=torch.long, device=words.device)
        return torch.cat([bos, words], 1)

    def forward(self, caps: Captions) -> Features:
        hidden = last_hidden(self.model, self.prefix(caps))  # (B, 1 + L, D)
        return Features(hidden[:, 1:], caps.words != PAD)  # the word positions


def last_hidden(model: UnifiedTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """(B, L, D): the output of the model's final LayerNorm, caught on its way to the head (the
    model's own forward, so the features cannot drift from what it was trained as)."""
    caught = []
    hook = model.ln_f.register_forward_hook(lambda _m, _i, out: caught.append(out))
    try:
        model(tokens)
    finally:
        hook.remove()
    return caught[0]


# region: pretrain-unified
def pretrain_unified(dim, depth, heads, steps, caps, tokens, seed=0, batch=32, lr=2e-3):
    """A UnifiedEncoder whose model is trained on both directions of (caps, tokens) with
    Chameleon's next-token loss: (encoder, notes). The last 128 pairs (or a quarter) are held
    out for the notes: greedy image -> caption exact-caption accuracy, and teacher-forced
    caption -> image token accuracy."""
    cfg = UnifiedTrainConfig(
        mode="chameleon", steps=steps, batch_size=batch, lr=lr, hidden=dim, depth=depth,
        heads=heads, seed=seed, p_t2i=0.5, p_drop=0.0,
    )  # fmt: skip
    n_train = len(caps) - min(128, len(caps) // 4)
    ids = [VOCAB.encode_text(t) for t in caps.text]
    corpus = Corpus(ids[:n_train], tokens[:n_train], DOC_LEN)
    model, state = fit_documents(cfg, VOCAB, DOC_LEN, shapes_sampler(cfg, VOCAB, corpus))
    enc = UnifiedEncoder(dim, depth, heads)
    enc.model = model.eval()
    held = torch.arange(n_train, len(caps))
    notes = held_out_notes(enc, caps.take(held), tokens[held])
    return enc, {**notes, "unified_final_loss": state["losses"][-1][1]}


@torch.no_grad()
def held_out_notes(enc: UnifiedEncoder, caps: Captions, tokens: torch.Tensor) -> dict:
    """What the pre-trained model knows of held-out pairs, in both directions."""
    written, _ = write_captions(enc.model, VOCAB, tokens, batch=128)
    exact = sum(w == t for w, t in zip(written, caps.text, strict=True)) / len(caps)
    # caption -> image: `BOS caption BOI image`, each image token predicted from those before
    prefix = enc.prefix(caps)
    n_words = (caps.words != PAD).sum(1)  # (B,)
    docs = torch.full((len(caps), DOC_LEN), VOCAB.PAD, dtype=torch.long)
    for i, n in enumerate(n_words.tolist()):
        row = [*prefix[i, : 1 + n].tolist(), VOCAB.BOI, *VOCAB.encode_image(tokens[i]).tolist()]
        docs[i, : len(row)] = torch.tensor(row)
    pred = enc.model(docs[:, :-1]).argmax(-1)  # (B, L-1)
    pos = (n_words + 2)[:, None] + torch.arange(tokens.shape[1])[None]  # image positions
    right = pred.gather(1, pos - 1) == docs.gather(1, pos)
    return {"i2t_exact_caption": exact, "t2i_token_accuracy": float(right.float().mean())}


# endregion
