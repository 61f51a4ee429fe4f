"""The exact oracle: Bayes' rule over the enumerated clean scenes, checked against a slow count,
and decoded into 100% valid samples when tokens are fixed one at a time."""

from __future__ import annotations

from functools import cache

import pytest
import torch

from generative.discrete.data.token_data import load_token_data
from generative.discrete.objectives.maskgit import decode
from generative.discrete.oracle import Oracle
from generative.errors import UserError


@cache
def setup(name="shapes", cond="class"):
    data = load_token_data(name, cond, n_train=8, n_test=8)
    return data, Oracle.for_data(data)


def partial_canvases(data, n=6, keep=0.3, seed=0):
    """Real sequences with most tokens masked: canvases some clean scene fits."""
    g = torch.Generator().manual_seed(seed)
    x = data.tokens[:n].clone()
    x[torch.rand(x.shape, generator=g) > keep] = data.vocab_size
    return x, data.cond[:n]


def slow_posterior(data, x, c):
    """Count, scene by scene, which tokens the consistent scenes of the condition show."""
    tokens, cond, _ = data.clean_scenes()  # uniform scenes: counting is Bayes' rule
    out = torch.zeros(len(x), x.shape[1], data.vocab_size, dtype=torch.float64)
    for s in range(len(tokens)):  # one scene at a time
        fits = ((x == data.vocab_size) | (x == tokens[s])).all(1) & (c == cond[s]).all(1)  # (B,)
        for b in fits.nonzero()[:, 0]:
            out[b, torch.arange(x.shape[1]), tokens[s]] += 1
    return out / out.sum(-1, keepdim=True)


@pytest.mark.parametrize("cond", ["class", "caption"])
def test_posterior_is_bayes_rule_over_the_clean_scenes(cond):
    data, oracle = setup("shapes", cond)
    x, c = partial_canvases(data, n=3, keep=0.1)
    p = oracle.posterior(x, c)
    assert torch.allclose(p.sum(-1), torch.ones(p.shape[:2], dtype=torch.float64))
    ref = slow_posterior(data, x, c)
    assert torch.allclose(p, ref, atol=1e-12)
    assert ((p > 0) == (ref > 0)).all()  # zero mass exactly where no consistent scene has it


def test_fixed_tokens_get_all_their_mass_and_the_null_condition_admits_every_scene():
    data, oracle = setup()
    x, c = partial_canvases(data)
    p = oracle.posterior(x, c)
    fixed = x != data.vocab_size
    assert (p.gather(-1, x.clamp_max(data.vocab_size - 1)[..., None])[..., 0][fixed] == 1).all()
    blank = torch.full((2, data.seq_len), data.vocab_size)
    null = torch.full((2, 1), data.cond_vocab - 1)
    # with no condition and nothing fixed, a corner patch is empty in 3 of 4 quadrants and
    # never empty-or-not at random: its posterior is the data's marginal
    tokens, _, _ = data.clean_scenes()
    marginal = torch.bincount(tokens[:, 0], minlength=data.vocab_size).double() / len(tokens)
    assert torch.allclose(oracle.posterior(blank, null)[0, 0], marginal)
    assert torch.allclose(oracle.posterior(blank, None)[0, 0], marginal)


def test_an_inconsistent_canvas_falls_back_to_the_nearest_scene():
    """One wrong token in a real scene: the oracle still names the token the scene had."""
    data, oracle = setup()
    x, c = data.tokens[:4].clone(), data.cond[:4]
    truth = x[:, 20].clone()
    x[:, 20] = (truth + 7) % data.vocab_size  # some clean scene may share it: check below
    broken = ~oracle.consistent(x, c)
    assert broken.any()
    p = oracle.posterior(x, c)
    assert (p[broken, 20].argmax(-1) == truth[broken]).all()
    assert (oracle(x, c)[broken, 20].gather(-1, x[broken, 20, None]) == float("-inf")).all()


@pytest.mark.parametrize(("name", "cond"), [("shapes", "class"), ("shapes", "caption"),
                                            ("digits-glyphs", "class")])  # fmt: skip
def test_one_token_a_round_in_random_order_samples_the_data_exactly(name, cond):
    """T = N rounds, a choice temperature that drowns the confidence: sequential sampling from
    the exact conditionals, so every sample is a clean scene of its condition."""
    data, oracle = setup(name, cond)
    c, labels = data.prompts(48, seed=1)
    start = torch.full((48, data.seq_len), data.vocab_size)
    res = decode(start, lambda x: oracle(x, c), data.vocab_size, steps=data.seq_len,
                 choice_temperature=1e4, generator=torch.Generator().manual_seed(0))  # fmt: skip
    s = data.score(res.tokens, labels)
    assert s["valid"].all() and s["cond_ok"].all()


def test_a_condition_no_scene_has_is_a_user_error():
    data, oracle = setup()
    with pytest.raises(UserError, match="matches no clean scene"):
        oracle.posterior(torch.full((1, data.seq_len), data.vocab_size), torch.tensor([[40]]))
