"""The exact consistency test for partial `shapes` sequences and the first-error replay."""

from __future__ import annotations

import torch

from generative.discrete.checker import check
from generative.discrete.consistency import class_scenes, clean_tokens, consistent, first_error
from generative.discrete.patch_tokenizer import PatchTokenizer

MASK = 61


def test_clean_tokens_are_every_clean_scene_once_and_pass_the_checker():
    tokens, classes = clean_tokens()
    assert tokens.shape == (1024, 64) and len(torch.unique(tokens, dim=0)) == 1024
    assert torch.bincount(classes).tolist() == [64] * 16
    res = check(PatchTokenizer().decode(tokens))
    assert res.valid.all()
    assert (4 * res.attributes["shape"] + res.attributes["colour"] == classes.numpy()).all()


def test_fully_fixed_sequences_are_consistent_exactly_when_the_checker_accepts_them():
    tokens, classes = clean_tokens()
    g = torch.Generator().manual_seed(0)
    x = tokens[torch.randint(0, 1024, (300,), generator=g)].clone()
    flip = torch.rand(300, generator=g) < 0.5  # half get one random token changed
    pos = torch.randint(0, 64, (300,), generator=g)
    x[flip, pos[flip]] = torch.randint(0, 61, (int(flip.sum()),), generator=g)
    ok = consistent(x, MASK, tokens)
    assert (ok.numpy() == check(PatchTokenizer().decode(x)).valid).all()
    assert (~ok).any() and ok.any()


def test_masked_positions_are_free_and_a_fully_masked_canvas_fits_every_class():
    tokens, _ = clean_tokens()
    blank = torch.full((16, 64), MASK)
    assert consistent(blank, MASK, class_scenes(torch.arange(16))).all()
    x = tokens[:1].clone()
    x[0, :40] = MASK  # whatever remains fixed is still this scene's
    assert consistent(x, MASK, tokens).all()


def test_first_error_finds_the_round_that_made_the_sample_impossible():
    tokens, classes = clean_tokens()
    scene, cls = tokens[0], classes[:1]
    far = int((scene != 0).nonzero()[0])  # an object position of this scene
    r1 = torch.full((1, 64), MASK)
    r1[0, 63 if scene[63] == 0 else 0] = 0  # background where the scene has background: fine
    r2 = r1.clone()
    r2[0, far] = 60  # an object token no class-0 scene has there
    r3 = r2.clone()
    r3[r3 == MASK] = 0
    err = first_error([r1, r2, r3], MASK, class_scenes(cls))
    assert err.round.tolist() == [2] and err.fixed_before.tolist() == [1]
    assert err.background.tolist() == [False]
    good = [torch.where(torch.arange(64) < k, scene, MASK)[None] for k in (10, 40, 64)]
    assert first_error(good, MASK, class_scenes(cls)).round.tolist() == [0]
