"""Editing as token surgery: the caption edit touches one word, the image edit one half."""

import pytest
import torch

from generative.discrete.data import shapes as S
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.errors import UserError
from generative.unified.model import UnifiedConfig, UnifiedTransformer
from generative.unified.surgery import edit_caption, half_positions, surgery
from generative.unified.vocab import Vocab


def test_half_positions_are_the_pixel_halves():
    d = S.make_shapes(20, seed=0, two_objects=True)
    tok = PatchTokenizer()
    codes = tok.encode(d.images)
    for half in (0, 1):
        blank = codes.masked_fill(half_positions(half), 0)  # empty that half's patches
        img = tok.decode(blank)
        cols = slice(half * 8, half * 8 + 8)
        assert not img[:, :, cols].any()  # the half is gone
        other = slice((1 - half) * 8, (1 - half) * 8 + 8)
        assert (img[:, :, other] == d.images[:, :, other]).all()  # the rest is untouched


def test_edit_caption_changes_one_word():
    v = Vocab()
    cap = S.caption_pair((0, 1), (0, 2), (0, 3))  # red square left, blue circle right
    ids = v.encode_text(cap)
    assert v.decode_text(edit_caption(v, ids, 1, "yellow")) == cap.replace("blue", "yellow")
    assert v.decode_text(edit_caption(v, ids, 0, "cross")) == cap.replace("square", "cross")
    with pytest.raises(UserError, match="colour or a shape"):
        edit_caption(v, ids, 0, "above")
    with pytest.raises(UserError, match="two-object"):
        edit_caption(v, v.encode_text(S.caption(0, 0, 0)), 0, "red")


def test_surgery_never_changes_a_token_outside_the_edited_half():
    v = Vocab()
    torch.manual_seed(0)
    net = UnifiedTransformer(UnifiedConfig(v.size, 96, hidden=32, depth=2, heads=2)).eval()
    d = S.make_shapes(6, seed=2, two_objects=True)
    codes = PatchTokenizer().encode(d.images)
    half = torch.tensor([0, 1, 0, 1, 0, 1])
    caps = [
        edit_caption(v, v.encode_text(c), int(h), "green")
        for c, h in zip(d.captions, half, strict=True)
    ]
    out, calls = surgery(
        net, v, caps, codes, half, steps=4, generator=torch.Generator().manual_seed(0)
    )
    for i, h in enumerate(half.tolist()):
        keep = ~half_positions(h)
        assert torch.equal(out[i][keep], codes[i][keep])
    assert calls == 4 and bool((out < v.image_codes).all())
