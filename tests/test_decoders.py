"""Adaptive unmasking and the corrector: their rules (a token a round, prompts untouched, every
call counted) on a random network, and what they buy on the exact oracle."""

from __future__ import annotations

from functools import cache

import pytest
import torch

from generative.discrete.data.token_data import load_token_data
from generative.discrete.decoders import correct, decode_adaptive, decode_masked
from generative.discrete.models.transformer import TokenTransformer, TransformerConfig
from generative.discrete.objectives.maskgit import decode, token_logp
from generative.discrete.oracle import Oracle
from generative.errors import UserError

V, N, MASK = 6, 12, 6


def random_net(seed=0):
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=V, seq_len=N, hidden=32, depth=1, heads=2)
    net = TokenTransformer(cfg).eval()
    with torch.no_grad():
        net.head.weight.mul_(20)  # confidences that differ between positions
    return net


class Counted:
    """tokens_to_logits that counts its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, x):
        self.calls += 1
        return self.fn(x)


@pytest.mark.parametrize("budget", [0.0, 0.5, 2.0, 1e9])
def test_adaptive_fixes_at_least_one_token_a_round_and_ends_unmasked(budget):
    net, g = random_net(), torch.Generator().manual_seed(1)
    start = torch.full((5, N), MASK)
    start[1, :4] = torch.tensor([0, 1, 2, 3])  # a row with part of it given
    f = Counted(net)
    res = decode_adaptive(start, f, MASK, budget, generator=g)
    assert not (res.tokens == MASK).any() and res.nfe == f.calls == len(res.rounds)
    before = start
    for s, x in enumerate(res.rounds, start=1):
        was, now = (before == MASK).sum(1), (x == MASK).sum(1)
        assert ((now < was) | (was == 0)).all()  # every unfinished row fixes a token
        assert ((res.fixed_round == s).sum(1) == was - now).all()
        before = x
    assert (res.row_nfe <= (start == MASK).sum(1)).all() and res.row_nfe.max() == res.nfe
    assert torch.equal(res.tokens[1, :4], start[1, :4])
    if budget == 0.0:  # positive entropies everywhere: exactly one token a round
        assert res.nfe == N
    if budget == 1e9:
        assert res.nfe == 1


def test_corrector_never_changes_a_given_token_and_counts_its_calls():
    net, g = random_net(), torch.Generator().manual_seed(2)
    start = torch.full((6, N), MASK)
    start[:, ::3] = torch.arange(4) % V  # a prompt on every third position
    f = Counted(net)
    res = decode_masked(start, f, MASK, "fixed", steps=3, corrector=5, corrector_k=4, generator=g)
    assert f.calls == res.nfe == 3 + 5
    assert torch.equal(res.tokens[:, ::3], start[:, ::3])
    f = Counted(net)
    res = decode_masked(start, f, MASK, "adaptive", entropy_budget=1.0, corrector=2, generator=g)
    assert f.calls == res.nfe and (res.row_nfe <= res.nfe).all()
    assert torch.equal(res.tokens[:, ::3], start[:, ::3])


def test_the_corrector_changes_tokens_it_remasks():
    net, g = random_net(), torch.Generator().manual_seed(3)
    start = torch.full((64, N), MASK)
    before = decode(start, net, MASK, steps=2, generator=g)
    after = correct(before, start != MASK, net, MASK, steps=3, k=3, generator=g)
    changed = (after.tokens != before.tokens).sum(1)
    assert changed.max() <= 3 * 3 and changed.sum() > 0


@cache
def shapes_oracle():
    data = load_token_data("shapes", "class", n_train=8, n_test=8)
    return data, Oracle.for_data(data)


def test_the_corrector_repairs_a_wrong_token_on_the_oracle():
    """A clean scene with one token changed: one corrector call with k = 1 re-masks exactly
    that token (the oracle gives it no mass) and re-samples the scene's own token."""
    data, oracle = shapes_oracle()
    x, c = data.tokens[:8].clone(), data.cond[:8]
    x[:, 27] = (x[:, 27] + 5) % data.vocab_size
    keep = ~oracle.consistent(x, c)
    x, c = x[keep], c[keep]
    f = lambda t: oracle(t, c)  # noqa: E731
    scores = f(x).log_softmax(-1).gather(-1, x[..., None])[..., 0]
    from generative.discrete.objectives.maskgit import DecodeResult

    res = DecodeResult(x, 0, torch.zeros_like(x), [], scores)
    out = correct(res, torch.zeros_like(x, dtype=torch.bool), f, data.vocab_size, steps=1, k=1)
    assert out.nfe == 1 and data.score(out.tokens)["valid"].all()


def test_corrector_and_adaptive_beat_fixed_rounds_on_the_oracle_at_equal_calls():
    data, oracle = shapes_oracle()
    c, labels = data.prompts(96)
    start = torch.full((96, data.seq_len), data.vocab_size)

    def valid(**kw):
        res = decode_masked(start, lambda x: oracle(x, c), data.vocab_size,
                            generator=torch.Generator().manual_seed(0), **kw)  # fmt: skip
        return data.score(res.tokens, labels)["valid"].mean(), res.nfe

    fixed, n_fixed = valid(steps=8)
    corrected, n_corr = valid(steps=4, corrector=4)
    assert n_fixed == n_corr == 8 and corrected > fixed + 0.2


def test_scores_are_draw_time_and_the_corrector_never_reads_visible_positions():
    """A MaskGIT network is trained only at masked positions: what it outputs at a visible one
    must not steer the corrector. Garbage written there changes nothing, and each token's score
    is the log-probability of the call that drew it."""
    net = random_net()
    calls = []

    def honest(x):
        calls.append(x.clone())
        return net(x)

    def garbage(x):  # the same at masked positions, noise at visible ones
        out = net(x)
        return torch.where((x == MASK)[..., None], out, 50 * torch.randn(out.shape))

    start = torch.full((16, N), MASK)
    runs = []
    for f in (honest, garbage):
        g = torch.Generator().manual_seed(5)
        runs.append(decode_masked(start, f, MASK, steps=4, corrector=6, generator=g))
    assert torch.equal(runs[0].tokens, runs[1].tokens)
    res = decode(start, net, MASK, steps=4, generator=torch.Generator().manual_seed(6))
    for s in range(1, 5):  # the call of round s saw the canvas before round s
        canvas = start if s == 1 else res.rounds[s - 2]
        logp = net(canvas).log_softmax(-1).gather(-1, res.tokens[..., None])[..., 0]
        at = res.fixed_round == s
        assert torch.allclose(res.scores[at], logp[at], atol=1e-5)


def test_a_perfect_critic_repairs_what_draw_time_scores_leave():
    """The exact oracle as the critic (the corrector's bound) makes every sample valid at
    T = 4 + 4 corrector calls; draw-time scores leave some broken."""
    data, oracle = shapes_oracle()
    c, labels = data.prompts(96)
    start = torch.full((96, data.seq_len), data.vocab_size)
    critic = lambda x: token_logp(oracle(x, c), x).clamp_min(-1e9)  # noqa: E731
    valid = []
    for kw in ({}, {"critic": critic}):
        res = decode_masked(start, lambda x: oracle(x, c), data.vocab_size, steps=4, corrector=4,
                            generator=torch.Generator().manual_seed(0), **kw)  # fmt: skip
        valid.append(data.score(res.tokens, labels)["valid"].mean())
    assert valid[1] == 1.0 and valid[0] < 1.0


def test_unknown_decoder_and_bad_knobs_are_user_errors():
    net, start = random_net(), torch.full((1, N), MASK)
    with pytest.raises(UserError, match="adaptive"):
        decode_masked(start, net, MASK, "greedy")
    with pytest.raises(UserError, match="corrector"):
        decode_masked(start, net, MASK, corrector=-1)
