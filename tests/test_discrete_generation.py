"""Part B generation: mask schedules, MaskGIT's loss and decoding, the AR model and its KV cache,
D3PM marginals and posteriors, the MDLM weight and carry-over, token data and the CLI."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from generative.discrete.models.transformer import KVCache, TokenTransformer, TransformerConfig
from generative.discrete.objectives import mdlm
from generative.discrete.objectives.autoregressive import (
    ar_loss,
    ar_sample,
    bits_per_token,
    shift_right,
)
from generative.discrete.objectives.d3pm import D3PM, KERNELS
from generative.discrete.objectives.maskgit import decode, mask_tokens, maskgit_loss, trace_json
from generative.discrete.objectives.schedules import SCHEDULES, gamma
from generative.errors import UserError


def tiny(causal=False, vocab=6, seq_len=10, cond=True, time_cond=False, seed=0):
    torch.manual_seed(seed)
    cfg = TransformerConfig(
        vocab_size=vocab,
        seq_len=seq_len,
        cond_vocab=4 if cond else 0,
        cond_len=1 if cond else 0,
        hidden=32,
        depth=2,
        heads=2,
        causal=causal,
        time_cond=time_cond,
    )
    net = TokenTransformer(cfg).eval()
    with torch.no_grad():  # sharper than init, so that confidences differ between positions
        net.head.weight.mul_(50)
    return net


# region: schedules
FORMULAS = {
    "cosine": lambda r, n: np.cos(np.pi * r / 2),
    "linear": lambda r, n: 1 - r,
    "square": lambda r, n: 1 - r**2,
    "cubic": lambda r, n: 1 - r**3,
    "sqrt": lambda r, n: 1 - np.sqrt(r),
    "log": lambda r, n: np.clip(-np.log2(np.maximum(r, 1e-12)) / np.log2(n), 0, 1),
    "exp": lambda r, n: 1 - 2.0 ** (-np.log2(n) * (1 - r)),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_equals_its_formula_and_decreases_to_zero(name):
    r = np.linspace(0, 1, 101)
    got = gamma(name, torch.from_numpy(r), n=64).numpy()
    np.testing.assert_allclose(got, FORMULAS[name](r, 64), atol=1e-12)
    assert got[-1] < 1e-12 and np.all(np.diff(got) <= 1e-15)
    assert got[0] >= 1 - 1 / 64  # (almost) everything masked at the start


def test_unknown_schedule_lists_the_choices():
    with pytest.raises(Exception, match="cosine"):
        gamma("quadratic", torch.tensor(0.5))


# endregion


def test_mask_tokens_masks_ceil_ratio_n_positions():
    x = torch.arange(40).reshape(4, 10) % 6
    ratio = torch.tensor([0.0, 0.05, 0.5, 1.0])
    xm, mask = mask_tokens(x, ratio, mask_id=6, generator=torch.Generator().manual_seed(0))
    assert mask.sum(1).tolist() == [1, 1, 5, 10]  # at least one, ceil(ratio * N)
    assert (xm[mask] == 6).all() and (xm[~mask] == x[~mask]).all()


def test_maskgit_loss_is_cross_entropy_on_masked_positions_only():
    net, x = tiny(), torch.randint(0, 6, (8, 10), generator=torch.Generator().manual_seed(1))
    loss = maskgit_loss(net, x, net.cfg.mask_id, None, "cosine", torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)  # replay the same draws by hand
    r = torch.rand(8, generator=g)
    xm, mask = mask_tokens(x, gamma("cosine", r, 10).float(), 6, g)
    logits = net(xm)
    assert torch.allclose(loss, F.cross_entropy(logits[mask], x[mask]))
    assert not torch.allclose(loss, F.cross_entropy(logits.flatten(0, 1), x.flatten()))


# region: decoding
@pytest.mark.parametrize("steps", [1, 3, 8, 25])
@pytest.mark.parametrize("schedule", ["cosine", "linear", "sqrt"])
def test_decoding_fixes_tokens_every_round_and_ends_unmasked(steps, schedule):
    net, cond = tiny(), torch.arange(5)[:, None] % 3
    start = torch.full((5, 10), net.cfg.mask_id)
    res = decode(start, lambda x: net(x, cond), net.cfg.mask_id, steps, schedule)
    assert not (res.tokens == net.cfg.mask_id).any()
    assert res.tokens.max() < net.cfg.vocab_size and res.nfe == len(res.rounds) <= steps
    masked_before = 10
    for s, x in enumerate(res.rounds, start=1):
        masked = (x == net.cfg.mask_id).sum(1)
        fixed_now = (res.fixed_round == s).sum(1)
        assert (fixed_now >= 1).all() or (masked_before == 0)  # at least one token a round
        expected = min(math.floor(gamma(schedule, torch.tensor(s / steps)).item() * 10), 9)
        if s < steps:  # the schedule sets how many stay masked (at most one fewer than before)
            assert (masked == min(expected, int(masked_before) - 1)).all()
        masked_before = int(masked.max())


def test_decoding_keeps_known_tokens_for_inpainting():
    net, g = tiny(), torch.Generator().manual_seed(3)
    known = torch.randint(0, 6, (4, 10), generator=g)
    hole = torch.zeros(4, 10, dtype=torch.bool)
    hole[:, 3:7] = True
    hole[3] = False  # a row with nothing to fill stays as it is
    start = known.masked_fill(hole, net.cfg.mask_id)
    res = decode(start, net, net.cfg.mask_id, steps=4, generator=g)
    assert (res.tokens[~hole] == known[~hole]).all()
    assert (res.fixed_round[~hole] == 0).all() and (res.fixed_round[hole] > 0).all()
    trace = trace_json(res, net.cfg.mask_id, rows=2)
    assert trace["rounds"][0][0][0] == known[0, 0].item() and len(trace["rounds"]) == res.nfe


def test_choice_temperature_changes_the_order_not_the_rules():
    net = tiny()
    start = torch.full((6, 10), net.cfg.mask_id)
    greedy = decode(start, net, 6, 4, choice_temperature=0.0, generator=torch.Generator())
    noisy = decode(start, net, 6, 4, choice_temperature=50.0, generator=torch.Generator())
    assert not torch.equal(greedy.fixed_round, noisy.fixed_round)
    for res in (greedy, noisy):
        assert [(res.fixed_round == s).sum().item() for s in (1, 2, 3, 4)] == [
            (res.fixed_round == s).sum().item() for s in (1, 2, 3, 4)
        ]


# endregion


# region: ar-cache
def test_kv_cached_sampling_gives_the_same_tokens_as_uncached():
    net = tiny(causal=True)
    cond = torch.arange(6)[:, None] % 3
    bos = net.cfg.bos_id
    a = ar_sample(net, 6, 10, bos, cond, kv_cache=True, generator=torch.Generator().manual_seed(7))
    b = ar_sample(net, 6, 10, bos, cond, kv_cache=False, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.tokens, b.tokens) and a.nfe == b.nfe == 10
    cache = KVCache(net.cfg.depth)  # and the cached logits equal the full pass's
    inp = shift_right(a.tokens, net.cfg.bos_id)
    full = net(inp, cond)
    steps = [net(inp[:, :1], cond, cache=cache)]
    steps += [net(inp[:, i : i + 1], cond, cache=cache) for i in range(1, 10)]
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)


def test_causal_model_ignores_future_tokens():
    net, x = tiny(causal=True), torch.randint(0, 6, (2, 10))
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 1) % 6
    assert torch.allclose(net(x)[:, :6], net(y)[:, :6], atol=1e-6)
    assert not torch.allclose(net(x)[:, 6:], net(y)[:, 6:], atol=1e-6)


def test_ar_likelihood_is_exact_it_sums_to_one_over_all_sequences():
    net = tiny(causal=True, vocab=3, seq_len=3, cond=False)
    xs = torch.tensor(list(itertools.product(range(3), repeat=3)))  # all 27 sequences
    per_seq = [bits_per_token(net, x[None]) * 3 for x in xs]  # bits per sequence
    assert sum(2.0**-b for b in per_seq) == pytest.approx(1.0, abs=1e-5)
    assert ar_loss(net, xs, net.cfg.bos_id).item() == pytest.approx(
        np.mean(per_seq) / 3 * math.log(2), rel=1e-5
    )


# endregion


# region: d3pm-tests
@pytest.mark.parametrize("kernel", KERNELS)
def test_d3pm_closed_form_marginal_equals_the_product_of_step_matrices(kernel):
    d = D3PM(kernel, vocab_size=5, T=12)
    prod = torch.eye(d.S, dtype=torch.float64)
    for t in range(1, d.T + 1):
        prod = prod @ d.Q[t]
        assert torch.allclose(prod, d.Qbar[t], atol=1e-10), t
    for m in (d.Q[1:], d.Qbar):
        assert torch.allclose(m.sum(-1), torch.ones(m.shape[:-1], dtype=torch.float64))
    if kernel == "absorbing":
        assert torch.allclose(d.Qbar[d.T][:, d.mask_id], torch.ones(d.S, dtype=torch.float64))
    if kernel == "uniform":
        assert torch.allclose(d.Qbar[d.T], torch.full((5, 5), 0.2, dtype=torch.float64))


@pytest.mark.parametrize("kernel", KERNELS)
def test_d3pm_posterior_is_bayes_rule(kernel):
    d = D3PM(kernel, vocab_size=4, T=6)
    x0, xt, t = torch.tensor([[2]]), torch.tensor([[d.S - 1]]), torch.tensor([4])
    got = d.reverse_probs(F.one_hot(x0, 4), xt, t)[0, 0]
    bayes = d.Q[4][:, xt[0, 0]] * d.Qbar[3][x0[0, 0]] / d.Qbar[4][x0[0, 0], xt[0, 0]]
    assert torch.allclose(got, bayes, atol=1e-12)


def test_d3pm_bound_and_loss_are_finite_and_positive():
    net = tiny(time_cond=True, cond=False)
    x = torch.randint(0, 6, (4, 10), generator=torch.Generator().manual_seed(0))
    for kernel in KERNELS:
        d = D3PM(kernel, 6, T=10)
        loss, bpt = d.loss(net, x), d.bits_per_token(net, x, passes=2)
        assert torch.isfinite(loss) and loss > 0 and 0 < bpt < 50


# endregion


# region: mdlm-tests
def test_mdlm_weight_is_one_over_t_for_the_log_linear_schedule():
    t = torch.tensor([1e-3, 0.1, 0.25, 0.5, 0.9, 1.0])
    assert torch.allclose(mdlm.weight(t), 1 / t.double())
    assert torch.allclose(mdlm.alpha(t), 1 - t)


def test_mdlm_loss_is_zero_on_unmasked_positions():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randint(0, 6, (3, 10), generator=g)
    xt = x0.clone()
    xt[:, ::3] = 6  # masked: positions 0, 3, 6, 9
    logits = torch.randn(3, 10, 6, generator=g) * 5  # garbage everywhere
    nll = mdlm.token_nll(logits, x0, xt, mask_id=6)
    keep = xt != 6
    assert (nll[keep] == 0).all() and (nll[~keep] > 0).all()


def test_mdlm_bound_equals_weighted_maskgit_loss():
    """At one fixed t the NELBO term is (1/t) x the cross-entropy summed over masked tokens."""
    net = tiny(cond=False)
    x0 = torch.randint(0, 6, (4, 10), generator=torch.Generator().manual_seed(1))
    t = torch.full((4,), 0.4)
    terms = mdlm.mdlm_terms(net, x0, net.cfg.mask_id, None, t, torch.Generator().manual_seed(5))
    u = torch.rand(x0.shape, generator=torch.Generator().manual_seed(5))
    xt = x0.masked_fill(u < 0.4, 6)
    ce = F.cross_entropy(net(xt).flatten(0, 1), x0.flatten(), reduction="none").reshape(4, 10)
    assert torch.allclose(terms, (ce * (xt == 6)).sum(1) / 0.4, atol=1e-5)


# endregion


def test_a_tiny_maskgit_learns_class_constant_sequences():
    """Data: every token equals the class. A few hundred steps suffice to decode it exactly."""
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=4, seq_len=8, cond_vocab=5, cond_len=1, hidden=32, depth=1)
    net, g = TokenTransformer(cfg), torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    for _ in range(150):
        c = torch.randint(0, 4, (32, 1), generator=g)
        loss = maskgit_loss(net, c.expand(-1, 8), net.cfg.mask_id, c, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    c = torch.arange(8)[:, None] % 4
    start, g = torch.full((8, 8), cfg.mask_id), torch.Generator().manual_seed(1)
    out = decode(start, lambda x: net.eval()(x, c), cfg.mask_id, steps=4, generator=g).tokens
    assert (out == c).float().mean() > 0.95, out


@pytest.mark.parametrize("name", ["shapes", "digits-glyphs"])
def test_token_data_scores_real_sequences_valid_and_on_condition(name):
    from generative.discrete.data.token_data import load_token_data

    d = load_token_data(name, "class", n_train=64, n_test=8)
    labels = d._class_labels(d.cond[:, 0].numpy())
    s = d.score(d.tokens, labels)
    assert s["valid"].all() and s["cond_ok"].all()
    wrong = d._class_labels((d.cond[:, 0].numpy() + 1) % d.num_classes)
    assert not d.score(d.tokens, wrong)["cond_ok"].any()
    broken = d.tokens.clone()
    broken[:, 0] = (broken[:, 0] + 1) % d.vocab_size  # one patch changed: no longer a clean scene
    assert not d.score(broken)["valid"].any()


def test_caption_prompts_ask_for_what_their_scenes_show():
    from generative.discrete.data.patch_tokenizer import PatchTokenizer
    from generative.discrete.data.shapes import make_shapes
    from generative.discrete.data.token_data import load_token_data

    d = load_token_data("shapes", "caption", n_train=16, n_test=4)
    cond, labels = d.prompts(6, seed=3)
    assert cond.shape == (6, 7) and cond.max() < d.cond_vocab - 1  # the null id is never used
    scenes = make_shapes(6, seed=10_003)  # the stream prompts(seed=3) draws from
    s = d.score(PatchTokenizer().encode(scenes.images), labels)
    assert s["cond_ok"].all()
    other = make_shapes(6, seed=99)  # other scenes mostly miss these captions
    assert d.score(PatchTokenizer().encode(other.images), labels)["cond_ok"].mean() < 0.5


def test_generate_decodes_the_oracle_with_every_decoder():
    """generate(oracle=True) swaps the network for the exact posterior: one token a round in
    random order is always valid; adaptive and the corrector report their calls."""
    from types import SimpleNamespace

    from generative.discrete.data.token_data import load_token_data
    from generative.discrete.generate import generate, score_samples

    data = load_token_data("shapes", "class", n_train=4, n_test=4)
    run = SimpleNamespace(cfg=SimpleNamespace(method="maskgit"), net=None, data=data)
    cond, labels = data.prompts(32)
    s = generate(run, 32, 64, cond, choice_temperature=1e4, oracle=True)
    assert score_samples(run, s, labels)["validity"] == 1.0 and s.nfe == 64
    a = generate(run, 32, cond=cond, decoder="adaptive", corrector=3, oracle=True, batch=16)
    assert a.nfe_mean <= a.nfe and a.nfe >= 4  # at least one round, plus three corrector calls
    m = generate(run, 16, 64, cond[:16], sampler="mdlm", oracle=True)  # MDLM decodes it too
    assert m.tokens.shape == (16, data.seq_len) and m.nfe <= 64
    ar_run = SimpleNamespace(cfg=SimpleNamespace(method="ar"), net=None, data=data)
    with pytest.raises(UserError, match="maskgit or mdlm"):
        generate(ar_run, 4, cond=cond[:4], oracle=True)
