"""The exact consistency test for partial `shapes` sequences and the first-error replay."""

from __future__ import annotations

import torch

from benchmarks.consistency import class_scenes, clean_tokens, consistent, first_error
from generative.discrete.data.checker import check
from generative.discrete.data.patch_tokenizer import PatchTokenizer

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


def test_two_object_parts_that_fit_alone_can_be_impossible_together():
    tokens, _ = clean_tokens()
    a, b = tokens[0], tokens[48]  # the red square at the top left and at the bottom right
    pa, pb = int((a != 0).nonzero()[0]), int((b != 0).nonzero()[0])
    rows = torch.full((3, 64), MASK)
    rows[0, pa], rows[1, pb] = a[pa], b[pb]
    rows[2, pa], rows[2, pb] = a[pa], b[pb]
    assert consistent(rows, MASK, class_scenes(torch.zeros(3, dtype=torch.long))).tolist() == [
        True,
        True,
        False,
    ]


def test_first_error_finds_the_round_that_made_each_sample_impossible():
    tokens, classes = clean_tokens()
    scene = tokens[0]  # class 0: a red square, top left, no jitter
    obj = (scene != 0).nonzero()[:, 0]
    r1 = torch.full((3, 64), MASK)
    r1[0, obj[0]] = 60  # a yellow token: no red-square scene has it anywhere
    r1[1, obj[:-1]] = scene[obj[:-1]]  # all of the object but one token: fits, pins the scene
    r1[2, :10] = scene[:10]
    r2 = r1.clone()
    r2[1, obj[-1]] = 0  # background where the pinned scene needs its last object token: a hole
    r2[2, :40] = scene[:40]
    r3 = torch.where(r2 == MASK, scene, r2)
    err = first_error([r1, r2, r3], MASK, class_scenes(classes[[0, 0, 0]]))
    assert err.round.tolist() == [1, 2, 0]
    assert err.fixed_before.tolist() == [0, len(obj) - 1, 0]
    assert err.fixed_after.tolist() == [1, len(obj), 0]
    assert err.background.tolist() == [False, True, False]
