"""The offline token data sets: shapes, glyphs, the exact patch tokenizer and the checkers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generative.discrete.data import checker, glyphs
from generative.discrete.data import shapes as S
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.errors import UserError


@pytest.mark.parametrize("two", [False, True])
def test_shapes_are_seeded_and_well_formed(two):
    """Same seed, same scenes; pixels are black or a palette colour; labels in range."""
    a, b = S.make_shapes(64, seed=1, two_objects=two), S.make_shapes(64, seed=1, two_objects=two)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.images.shape == (64, 16, 16, 3) and a.images.dtype == np.uint8
    assert len(a.captions) == 64
    colours = np.concatenate([np.zeros((1, 3), np.uint8), S.PALETTE])
    pixels = a.images.reshape(-1, 3)
    assert (pixels[:, None] == colours[None]).all(-1).any(-1).all()
    shape = (64, 2) if two else (64,)
    for k in ("shape", "colour", "quadrant", "jitter_y", "jitter_x"):
        assert a.labels[k].shape == shape
    if two:  # left object in a left quadrant, right object in a right one
        assert (a.labels["quadrant"][:, 0] % 2 == 0).all()
        assert (a.labels["quadrant"][:, 1] % 2 == 1).all()


def test_caption_names_the_attributes():
    d = S.make_shapes(20, seed=0)
    for i, cap in enumerate(d.captions):
        assert S.COLOURS[d.labels["colour"][i]] in cap
        assert S.SHAPES[d.labels["shape"][i]] in cap
        assert S.QUADRANTS[d.labels["quadrant"][i]] in cap
    assert S.caption_pair([0, 1], [0, 2], [0, 3]) == (
        "a red square on the left, above a blue circle on the right"
    )


def test_patch_tokenizer_round_trips_every_clean_scene():
    """encode -> decode is the identity on all 1024 clean scenes and on two-object scenes;
    decode -> encode is the identity on random token sequences."""
    tok = PatchTokenizer()
    assert tok.vocab_size == 61 and tok.seq_len == 64
    every = np.frombuffer(b"".join(checker._table(None)), np.uint8).reshape(-1, 16, 16, 3)
    assert len(every) == 1024
    two = S.make_shapes(300, seed=2, two_objects=True).images
    for images in (every, two):
        t = tok.encode(images)
        assert t.dtype == torch.int64 and t.shape == (len(images), 64)
        assert 0 <= t.min() and t.max() < tok.vocab_size
        np.testing.assert_array_equal(tok.decode(t), images)
    rand = torch.randint(0, tok.vocab_size, (50, 64), generator=torch.Generator().manual_seed(0))
    assert torch.equal(tok.encode(tok.decode(rand)), rand)


def test_patch_tokenizer_token_layout():
    """A lone top-left red pixel is token 1 at position 0; a full yellow patch is the last."""
    tok = PatchTokenizer()
    img = np.zeros((1, 16, 16, 3), np.uint8)
    img[0, 0, 0] = S.PALETTE[0]
    img[0, 14:16, 14:16] = S.PALETTE[3]
    t = tok.encode(img)[0]
    assert t[0] == 1 and t[63] == 60 and (t[1:63] == 0).all()


def test_patch_tokenizer_rejects_bad_input():
    tok = PatchTokenizer()
    with pytest.raises(UserError, match="shape"):
        tok.encode(np.zeros((2, 8, 8, 3), np.uint8))
    img = np.zeros((1, 16, 16, 3), np.uint8)
    img[0, 3, 3] = (10, 20, 30)
    with pytest.raises(UserError, match="palette"):
        tok.encode(img)
    img[0, 3, 3] = S.PALETTE[0]
    img[0, 2, 2] = S.PALETTE[1]  # same 2x2 patch, another colour
    with pytest.raises(UserError, match="two colours"):
        tok.encode(img)
    with pytest.raises(UserError, match="0..60"):
        tok.decode(torch.full((1, 64), 61))


@pytest.mark.parametrize("two", [False, True])
def test_checker_is_exact_on_real_data_and_rejects_corruptions(two):
    """100% valid with the generating labels on real scenes; one changed pixel is rejected."""
    d = S.make_shapes(400, seed=3, two_objects=two)
    res = checker.check(d.images, two_objects=two)
    assert res.valid.all()
    for k in checker.KEYS:
        np.testing.assert_array_equal(res.attributes[k], d.labels[k])
    assert res.matches(d.labels).all()
    bad = d.images.copy()
    rng = np.random.default_rng(0)
    for i in range(len(bad)):  # flip one random pixel to another palette colour or black
        y, x = rng.integers(0, 16, 2)
        choices = [c for c in np.concatenate([[[0, 0, 0]], S.PALETTE]) if (c != bad[i, y, x]).any()]
        bad[i, y, x] = choices[rng.integers(len(choices))]
    assert not checker.check(bad, two_objects=two).valid.any()
    assert not checker.check(np.zeros((1, 16, 16, 3), np.uint8), two_objects=two).valid.any()


def test_checker_counts_and_conditional_accuracy():
    assert checker.n_clean() == 1024 and checker.n_clean(True) == 512 * 512
    d = S.make_shapes(10, seed=4)
    wrong = dict(d.labels, colour=(d.labels["colour"] + 1) % 4)
    assert not checker.check(d.images).matches(wrong).any()


def test_glyphs_round_trip_and_check():
    """Glyphs: seeded, exact tokenizer round trip, checker 100% with the right values, and a
    changed pixel rejected; every number 0..99 renders distinctly."""
    d = glyphs.make_glyphs(300, seed=0, max_value=99)
    assert d.images.shape == (300, 16, 16, 1) and set(np.unique(d.images)) <= {0, 255}
    np.testing.assert_array_equal(d.images, glyphs.make_glyphs(300, seed=0, max_value=99).images)
    tok = glyphs.glyph_tokenizer()
    assert tok.vocab_size == 16
    np.testing.assert_array_equal(tok.decode(tok.encode(d.images)), d.images)
    res = glyphs.check_glyphs(d.images)
    assert res.valid.all()
    np.testing.assert_array_equal(res.attributes["value"], d.labels["value"])
    assert len(glyphs._table()) == 770 + 1890
    bad = d.images.copy()
    bad[:, 0, 0] = 255 - bad[:, 0, 0]
    assert not glyphs.check_glyphs(bad).valid.any()
    with pytest.raises(UserError, match="0..99"):
        glyphs.make_glyphs(5, max_value=100)


def test_sklearn_digits_are_real_8x8_images():
    x, y = glyphs.sklearn_digits()
    assert x.shape == (1797, 8, 8) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1 and set(np.unique(y)) == set(range(10))


@pytest.mark.parametrize("name", ["shapes", "digits-glyphs"])
def test_registry_enumerates_every_clean_scene_once_with_the_generators_law(name):
    """scenes() lists each clean scene once, all pass the checker, and their probabilities
    match the generator's frequencies (a chi-square-free check: the empirical max deviation)."""
    from generative.discrete.data.registry import get_dataset

    ds = get_dataset(name)
    s = ds.scenes()
    tok = ds.tokenizer()
    tokens = tok.encode(s.images)
    assert len(torch.unique(tokens, dim=0)) == len(tokens) and ds.check(s.images).valid.all()
    assert np.isclose(s.prob.sum(), 1.0) and (s.classes < ds.num_classes).all()
    draws = tok.encode(ds.make(20000, 5).images)  # every draw is one of the listed scenes
    index = {tuple(t): i for i, t in enumerate(tokens.tolist())}
    counts = np.bincount([index[tuple(t)] for t in draws.tolist()], minlength=len(tokens))
    assert np.abs(counts / 20000 - s.prob).max() < 5 * np.sqrt(s.prob.max() / 20000)


def test_unknown_data_set_lists_the_registered_ones():
    from generative.discrete.data.token_data import load_token_data

    with pytest.raises(UserError, match="digits-glyphs"):
        load_token_data("moons")
    with pytest.raises(UserError, match="no captions"):
        load_token_data("digits-glyphs", "caption")
