"""Training the unified transformer through the one loop: both losses fall (honest bounds), and
the Show-o loss masks only the image spans of text -> image documents."""

import math

import numpy as np
import pytest
import torch

from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.discrete.data.shapes import make_shapes
from generative.unified.documents import I2T, T2I, make_documents
from generative.unified.objectives import mask_image_spans
from generative.unified.train import UnifiedTrainConfig, train_unified
from generative.unified.vocab import Vocab


def test_show_o_masks_only_text_to_image_spans():
    v, d = Vocab(), make_shapes(8, seed=1)
    docs = make_documents(
        v, d.captions, PatchTokenizer().encode(d.images), np.array([T2I, I2T] * 4)
    )
    tokens, masked = mask_image_spans(docs, v.MASK, generator=torch.Generator().manual_seed(0))
    assert bool((masked <= docs.image_span()).all())  # never outside the span
    assert bool(masked[docs.direction == T2I].any(1).all())  # at least one per text -> image row
    assert not bool(masked[docs.direction == I2T].any())  # image -> text rows read clean images
    assert torch.equal(tokens[~masked], docs.tokens[~masked]) and bool(
        (tokens[masked] == v.MASK).all()
    )


@pytest.mark.parametrize("mode", ["chameleon", "showo"])
def test_a_tiny_run_lowers_the_loss(mode):
    cfg = UnifiedTrainConfig(
        mode=mode,
        n_train=32,
        steps=60,
        batch_size=16,
        hidden=32,
        depth=1,
        heads=2,
        warmup=5,
        lr=3e-3,
    )
    model, state, _ = train_unified(cfg)
    first, last = state["losses"][0][1], state["losses"][-1][1]
    print(mode, first, last)
    # uniform guessing over the vocabulary costs ln(V) = 5.3 nats a token; 60 steps must learn
    # at least the markers and the mostly empty image (far below half of that)
    assert first > 3.0 and last < 0.5 * math.log(Vocab().size)
    assert not model.training
