"""Few-step sampling: the OT coupling, the straightness measure, reflow and consistency
distillation, checked on cases with known answers (Gaussian data has a closed-form velocity and a
closed-form optimal map x1 = M + S x0)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import ot
import pytest
import torch

from generative.continuous.coupling import OTFlowMatching, ot_pairing, pairing_cost
from generative.continuous.distill import ConsistencyDistillation, consistency_fn
from generative.continuous.flow_matching import FlowMatching, solve_ode
from generative.continuous.reflow import Reflow, load_pairs, make_pairs, reflow
from generative.continuous.sampling import sample
from generative.continuous.straightness import chord_deviation
from generative.continuous.train_denoiser import TrainConfig, load_run, train
from generative.errors import UserError

M, S = torch.tensor([1.0, -0.5]), torch.tensor([2.0, 0.5])  # data N(M, diag(S^2))


def gaussian_velocity(x, t, y=None):
    """The exact marginal velocity of the linear path for Gaussian data (see
    test_flow_matching): its flow maps x0 to the optimal (monotone) map M + S x0, along curves."""
    t = t[:, None].to(x.dtype)
    var = (1 - t) ** 2 + t**2 * S**2
    return M + (t * S**2 - (1 - t)) / var * (x - t * M)


def optimal_map(x0):
    return M + S * x0


def gaussian_file(tmp_path, n=4000):
    x = (M + S * torch.randn(n, 2, generator=torch.Generator().manual_seed(1))).numpy()
    path = tmp_path / "gauss.npy"
    np.save(path, x.astype(np.float32))
    return str(path)


def noise(n, seed=123):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))


def test_ot_pairing_is_an_optimal_permutation():
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(64, 2, generator=g), 3 + torch.randn(64, 2, generator=g)
    perm = ot_pairing(x0, x1)
    assert sorted(perm.tolist()) == list(range(64))  # every data point used exactly once
    cost = pairing_cost(x0, x1[perm])
    assert cost < 0.9 * pairing_cost(x0, x1)  # well below the independent (identity) pairing
    exact = ot.emd2(ot.unif(64), ot.unif(64), ot.dist(x0.double().numpy(), x1.double().numpy()))
    assert cost == pytest.approx(64 * exact, rel=1e-5)  # the optimum, not merely better
    for _ in range(20):  # and no random reordering does better
        assert cost <= pairing_cost(x0, x1[torch.randperm(64, generator=g)])


def test_ot_pairing_of_small_batches_beats_every_permutation():
    g = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    best = min(pairing_cost(x0, x1[list(p)]) for p in itertools.permutations(range(6)))
    assert pairing_cost(x0, x1[ot_pairing(x0, x1)]) == pytest.approx(best, rel=1e-6)


def test_ot_cfm_loss_pairs_before_regressing():
    """A net that outputs the paired displacement x1 - x0 scores zero only under OT pairing."""
    g = torch.Generator().manual_seed(0)
    x1 = torch.randn(32, 2, generator=g)
    state = g.get_state()
    x0 = torch.randn(32, 2, generator=g)  # the noise the loss will draw first
    u = x1[ot_pairing(x0, x1)] - x0
    net = lambda x, t, y=None: u  # noqa: E731
    assert OTFlowMatching().loss(net, x1, generator=g.set_state(state)) < 1e-10
    assert FlowMatching().loss(net, x1, generator=g.set_state(state)) > 0.1


def test_chord_deviation_of_known_paths():
    line = torch.linspace(0, 1, 9)[:, None, None] * torch.tensor([[2.0, -1.0]])  # (9, 1, 2)
    assert chord_deviation(line) == 0.0
    kink = torch.tensor([[[0.0, 0.0]], [[1.0, 1.0]], [[2.0, 0.0]]])  # off by 1 at the middle
    assert chord_deviation(kink) == pytest.approx(1 / 3)
    slow = torch.tensor([0.0, 0.1, 1.0])[:, None, None] * torch.ones(1, 1, 2)  # on the line
    assert chord_deviation(slow) == pytest.approx(2 * 0.4**2 / 3)  # but not at constant speed


def test_reflow_pairs_are_the_teachers_samples(tmp_path):
    teacher = tmp_path / "teacher"
    train(TrainConfig(steps=30, width=32), teacher, progress=False)
    run = reflow(teacher, tmp_path / "reflow", n_pairs=300, steps=3, seed=5, train_steps=10)
    pairs = load_pairs(tmp_path / "reflow")
    t = load_run(teacher)
    again = sample(t.method, t.net, t.shape, 300, "rk4", 3, seed=5, keep_trajectory=True)
    assert torch.equal(pairs.x0, again.trajectory[0]) and torch.equal(pairs.x1, again.x)
    assert pairs.nfe == 12 and run.state["step"] == 10
    with pytest.raises(UserError, match="already holds a run"):
        reflow(teacher, tmp_path / "reflow", n_pairs=10)


def test_reflow_trains_on_its_pairs_only():
    x0 = noise(50)
    x1 = x0 + torch.tensor([3.0, -2.0])  # every pair moves by the same displacement
    net = lambda x, t, y=None: torch.zeros_like(x)  # noqa: E731
    data = torch.randn(16, 2) * 100  # the loop's data batch: only its size matters
    loss = Reflow(x0, x1).loss(net, data, generator=torch.Generator().manual_seed(0))
    assert loss.item() == pytest.approx((9 + 4) / 2)


def test_reflow_one_step_converges_to_the_gaussian_optimal_map(tmp_path):
    """Pairs from the exact (curved) flow; reflow makes one Euler step land on M + S x0."""
    teacher = SimpleNamespace(method=FlowMatching(), net=gaussian_velocity, shape=(2,))
    pairs = make_pairs(teacher, 4000, seed=0, sampler="rk4", steps=8)
    assert (pairs.x1 - optimal_map(pairs.x0)).pow(2).sum(1).mean() < 1e-4  # the map, exactly
    data = gaussian_file(tmp_path)
    cfg = TrainConfig(data=data, standardize=False, steps=300, width=64, snapshot_every=100)
    out = tmp_path / "reflow"
    train(cfg, out, progress=False, method=Reflow(pairs.x0, pairs.x1))
    x0 = noise(2000)

    def one_step_error(run):
        x1 = x0 + run.net(x0, torch.zeros(len(x0)))
        return (x1 - optimal_map(x0)).pow(2).sum(1).mean().item()

    first, last = one_step_error(load_run(out, snapshot=100)), one_step_error(load_run(out))
    teacher_error = (M - optimal_map(x0)).pow(2).sum(1).mean().item()  # one step lands on M
    assert last < first and last < 0.005 * teacher_error


def test_distillation_at_the_teachers_step_count_reproduces_the_teacher(tmp_path):
    """Distil the exact Gaussian field's 4-step Euler sampler: one student step matches it."""
    N = 4
    teacher = lambda x, t: gaussian_velocity(x, t)  # noqa: E731
    cfg = TrainConfig(data=gaussian_file(tmp_path), standardize=False, steps=400, width=64)
    cd = ConsistencyDistillation(teacher, N, "euler")
    run = train(cfg, tmp_path / "cd", progress=False, method=cd)
    x0 = noise(2000)
    target, _ = solve_ode(teacher, x0, N, "euler")
    with torch.no_grad():
        student = consistency_fn(run.net, x0, torch.zeros(len(x0)))
    err = (student - target).pow(2).sum(1).mean().item()
    spread = (target - target.mean(0)).pow(2).sum(1).mean().item()
    assert err < 0.01 * spread
    with torch.no_grad():  # f(x, 1) = x: the boundary condition holds by construction
        x = torch.randn(5, 2)
        assert torch.equal(consistency_fn(run.net, x, torch.ones(5)), x)


def test_consistency_sampler_jumps_to_the_endpoint_at_any_step_count():
    """One step is one Euler step; a student whose f(x, t) is a constant c returns c exactly
    however many times it re-noises."""
    from generative.continuous.distill import sample_consistency

    c = torch.tensor([0.5, -2.0])
    to_c = lambda x, t, y=None: (c - x) / (1 - t[:, None])  # noqa: E731  f(x, t) = c
    x0 = noise(100)
    one = sample(FlowMatching(), to_c, (2,), 100, "consistency", 1, seed=123)
    euler = sample(FlowMatching(), to_c, (2,), 100, "euler", 1, seed=123)
    assert torch.equal(one.x, euler.x) and one.nfe == 1
    x, nfe = sample_consistency(to_c, x0, 5, torch.Generator().manual_seed(0))
    assert nfe == 5 and torch.allclose(x, c.expand(100, 2), atol=1e-5)
