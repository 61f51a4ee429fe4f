"""Quantizers: analytic cases and invariants (FSQ grid, STE, EMA formula, restarts, stats)."""

from __future__ import annotations

import itertools

import pytest
import torch

from generative.discrete.tokenizers.code_stats import CodeStats, perplexity
from generative.discrete.tokenizers.fsq import FSQ
from generative.discrete.tokenizers.vq import VectorQuantizer, kmeans
from generative.errors import UserError


@pytest.mark.parametrize("levels", [[8, 8], [8, 6, 5], [3, 4], [2, 5, 7]])
def test_fsq_index_code_bijection_over_the_whole_codebook(levels):
    """Every index maps to a distinct code on the grid and back; the codebook is the product
    grid: per dimension exactly L values, evenly spaced, within [-1, 1]."""
    q = FSQ(levels)
    idx = torch.arange(q.num_codes)
    codes = q.indices_to_codes(idx)
    assert torch.equal(q.codes_to_indices(codes), idx)
    assert len({tuple(c.tolist()) for c in codes}) == q.num_codes
    for i, L in enumerate(levels):
        vals = codes[:, i].unique()
        assert len(vals) == L and vals.min() >= -1 and vals.max() <= 1
        assert torch.allclose(vals.diff(), torch.full((L - 1,), 1.0 / (L // 2)))


def test_fsq_outputs_lie_on_the_grid_and_use_every_level():
    """Random inputs quantize onto the grid; extreme inputs reach every extreme level."""
    q = FSQ([8, 5])
    out = q(torch.randn(5000, 2) * 3)
    digits = out.z_q * q.half_width + q.half_width
    assert torch.allclose(digits, digits.round()) and out.loss == 0
    for i, L in enumerate([8, 5]):
        assert set(digits[:, i].round().long().tolist()) == set(range(L))
    assert 0 <= out.indices.min() and out.indices.max() < 40


def test_straight_through_gradient_is_the_identity():
    """d z_q / d z = I for VQ (the gradient reaching z equals the one reaching z_q); FSQ passes
    the gradient through rounding unchanged, times the bounded tanh's own derivative."""
    torch.manual_seed(0)
    vq = VectorQuantizer(16, 3)
    z = torch.randn(10, 3, requires_grad=True)
    g = torch.randn(10, 3)
    (vq(z).z_q * g).sum().backward()
    assert torch.equal(z.grad, g)

    fsq = FSQ([5, 8, 6])
    z = torch.randn(10, 3, requires_grad=True)
    (fsq(z).z_q * g).sum().backward()
    zz = z.detach().clone().requires_grad_(True)
    (fsq.bound(zz) / fsq.half_width * g).sum().backward()
    assert torch.allclose(z.grad, zz.grad)


def test_without_straight_through_the_encoder_gets_no_reconstruction_gradient():
    vq = VectorQuantizer(16, 3, straight_through=False)
    z = torch.randn(10, 3, requires_grad=True)
    out = vq(z)
    assert (
        not out.z_q.requires_grad
        or torch.autograd.grad(out.z_q.sum(), z, allow_unused=True)[0] is None
    )


def test_vq_losses_and_nearest_code():
    """Assignment is to the nearest code; codebook + 0.25 commitment loss on a 1D example."""
    vq = VectorQuantizer(2, 1, update="loss")
    vq.set_codebook(torch.tensor([[0.0], [10.0]]))
    z = torch.tensor([[1.0], [2.0], [9.0]])
    out = vq(z)
    assert out.indices.tolist() == [0, 0, 1]
    mse = (1 + 4 + 1) / 3
    assert torch.isclose(out.loss, torch.tensor(1.25 * mse))
    assert torch.isclose(out.error, torch.tensor(mse))


def test_ema_update_equals_the_running_mean_formula():
    """Hand computation, decay 0.5, eps 0: counts 0.5*1 + 0.5*(2, 1) = (1.5, 1); sums
    0.5*(0, 10) + 0.5*(1 + 2, 9) = (1.5, 9.5); codes = sums / counts = (1, 9.5). With eps, the
    Laplace-smoothed counts (N_k + eps) / (N + K eps) * N divide instead."""
    for eps in (0.0, 0.1):
        vq = VectorQuantizer(2, 1, update="ema", decay=0.5, eps=eps)
        vq.set_codebook(torch.tensor([[0.0], [10.0]]))
        out = vq(torch.tensor([[1.0], [2.0], [9.0]]))
        assert torch.isclose(out.loss, torch.tensor(0.25 * (1 + 4 + 1) / 3))  # commitment only
        counts, sums = torch.tensor([1.5, 1.0]), torch.tensor([1.5, 9.5])
        assert torch.allclose(vq.ema_count, counts)
        smoothed = (counts + eps) / (counts.sum() + 2 * eps) * counts.sum()
        assert torch.allclose(vq.codebook[:, 0], sums / smoothed)
    vq.eval()  # no update outside training
    before = vq.codebook.clone()
    vq(torch.randn(20, 1))
    assert torch.equal(vq.codebook, before)


def test_dead_code_restart_moves_only_dead_codes():
    """Codes far from the data are never hit; once their count decays under the threshold they
    move onto batch vectors, while the codes in use keep their EMA values."""
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 2, update="ema", decay=0.5, dead_threshold=0.3)
    vq.set_codebook(torch.tensor([[0.0, 0.0], [1.0, 1.0], [50.0, 50.0], [-50.0, 50.0]]))
    x = torch.cat([torch.randn(64, 2) * 0.1, torch.randn(64, 2) * 0.1 + 1])
    vq(x)  # counts of codes 2, 3: 0.5 >= 0.3: still alive
    assert vq.restarts == 0
    alive_before = vq.codebook[:2].clone()
    vq(x)  # now 0.25 < 0.3: both restarted onto data
    assert vq.restarts == 2
    moved = vq.codebook[2:]
    assert ((moved[:, None] - x[None]).abs().sum(-1).min(1).values == 0).all()
    # the live codes got the ordinary EMA update (close to their data means, not restarted)
    assert (vq.codebook[:2] - alive_before).abs().max() < 0.2
    assert torch.allclose(vq.ema_count[2:], torch.tensor([0.3, 0.3]))


def test_kmeans_init_places_codes_on_clusters():
    torch.manual_seed(0)
    centres = torch.tensor([[-5.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    x = (centres[:, None] + 0.1 * torch.randn(3, 100, 2)).reshape(-1, 2)
    vq = VectorQuantizer(3, 2, init="kmeans")
    vq.train()
    vq(x)
    assert torch.cdist(vq.codebook.detach(), centres).min(0).values.max() < 0.1
    assert torch.cdist(kmeans(x, 3), centres).min(0).values.max() < 0.1


def test_perplexity_and_usage():
    """Uniform histogram: perplexity K; one code: 1; usage counts codes hit over all batches."""
    assert perplexity(torch.full((64,), 7)) == pytest.approx(64)
    assert perplexity(torch.tensor([5, 0, 0, 0])) == pytest.approx(1)
    vq = VectorQuantizer(4, 1).eval()
    vq.set_codebook(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
    stats = CodeStats(4)
    for batch in ([[0.1], [0.2]], [[2.9]]):  # one code per batch; over the pass, 2 of 4
        stats.update(vq(torch.tensor(batch)))
    r = stats.result()
    assert r["usage"] == 0.5 and r["perplexity"] == pytest.approx(
        perplexity(torch.tensor([2, 0, 0, 1]))
    )


def test_bad_quantizer_settings_are_clear_errors():
    with pytest.raises(UserError, match="at least 2"):
        FSQ([8, 1])
    with pytest.raises(UserError, match="at least 1 code"):
        VectorQuantizer(0, 2)
    with pytest.raises(UserError, match="valid choices"):
        VectorQuantizer(4, 2, init="zeros")
    with pytest.raises(UserError, match="size"):
        FSQ([5, 5])(torch.randn(3, 4))


def test_fsq_codebook_size_is_the_product_of_levels():
    for levels in itertools.product([2, 3, 8], repeat=2):
        assert FSQ(levels).num_codes == levels[0] * levels[1]
