"""Tier-A widgets in Chromium: what each one computes, checked through data-state against the
package's own torch code or an analytic fact (the fixture lesson carries all five)."""

from __future__ import annotations

import pytest
import torch

from generative.continuous.diffusion import DDPM

PAGE = "98-fixture.html"


@pytest.fixture
def widget(open_page):
    """widget(name) -> (probe, locator) on the fixture page, with no console error so far."""
    probe = open_page(PAGE)

    def _get(name):
        return probe, probe.page.locator(f'.widget[data-widget="{name}"]')

    yield _get
    assert probe.errors == []


def test_path_drag_ends_and_the_unscaled_failure(widget):
    probe, w = widget("path-drag")
    at0 = probe.set_knob(w, "t", 0)
    at1 = probe.set_knob(w, "t", 1)
    # t = 0 is the noise cloud (mean near 0), t = 1 the standardized moons (mean exactly 0)
    assert max(map(abs, at1["xt_mean"])) < 1e-9
    assert max(map(abs, at0["xt_mean"])) < 0.2
    assert abs(at1["data_rms"] - 1) < 1e-6  # standardized per axis
    bad = probe.failure(w)
    assert bad["standardize"] is False and bad["scale"] == 5
    assert bad["data_rms"] > 3 and bad["mean_speed"] > 2 * at1["mean_speed"]


def test_pt_slices_noise_end_is_one_hump_and_the_failure_hides_the_moons(widget):
    probe, w = widget("pt-slices")
    fine = probe.set_knob(w, "bandwidth", 0.1)
    assert fine["modes_noise"] == 1  # t = 0: a standard normal along any axis
    assert fine["modes_data"] >= 2
    for angle in (0, 45, 90, 135):
        assert probe.set_knob(w, "angle", angle)["modes_data"] >= 2
    bad = probe.failure(w)
    assert bad["modes_data"] == 1


@pytest.mark.parametrize(("schedule", "T"), [("linear", 1000), ("cosine", 1000), ("cosine", 50)])
def test_forward_schedule_alpha_bar_matches_the_package(widget, schedule, T):
    probe, w = widget("forward-schedule")
    probe.set_knob(w, "schedule", schedule)
    probe.set_knob(w, "T", T)
    ddpm = DDPM(schedule, T)
    for k in (0, T // 3, T - 1):
        state = probe.set_knob(w, "k", k)
        assert state["k"] == k
        assert state["alpha_bar"] == pytest.approx(ddpm.alphas_cumprod[k].item(), rel=1e-5)


def test_forward_schedule_failure_is_a_chain_that_never_reaches_noise(widget):
    probe, w = widget("forward-schedule")
    good = probe.set_knob(w, "T", 1000)
    assert good["alpha_bar_end"] < 1e-4
    bad = probe.failure(w)
    assert (bad["schedule"], bad["T"], bad["k"]) == ("linear", 50, 49)
    assert bad["alpha_bar_end"] == pytest.approx(DDPM("linear", 50).alphas_cumprod[-1].item())
    assert bad["signal_end"] > 0.5  # more than half the signal amplitude survives the whole chain


def _elbo_weights(schedule, T, variance):
    """lambda_k, k >= 1, written from the ELBO term KL(q(x_{k-1}|x_k,x_0) || p(x_{k-1}|x_k))."""
    d = DDPM(schedule, T)
    s2 = d.betas if variance == "beta" else d.posterior_variance
    # mean error (coef on eps) = beta / sqrt(alpha (1 - abar)); KL = |mean error|^2 / (2 sigma^2)
    return (d.betas**2 / (d.alphas * (1 - d.alphas_cumprod)) / (2 * s2))[1:]


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_loss_weights_match_the_elbo(widget, schedule, variance):
    probe, w = widget("loss-weights")
    probe.set_knob(w, "schedule", schedule)
    state = probe.set_knob(w, "variance", variance)
    lam = _elbo_weights(schedule, state["T"], variance)
    norm = lam / lam.mean()
    top = torch.sort(norm, descending=True).values[: -(-len(norm) // 10)].sum() / len(norm)
    assert state["top10_share"] == pytest.approx(top.item(), rel=1e-4)
    assert state["max_over_mean"] == pytest.approx(norm.max().item(), rel=1e-4)
    assert state["argmax"] == int(norm.argmax()) + 1


def test_loss_weights_failure_is_the_most_lopsided_setting(widget):
    probe, w = widget("loss-weights")
    shares = {}
    for schedule in ("linear", "cosine"):
        for variance in ("beta", "beta_tilde"):
            probe.set_knob(w, "schedule", schedule)
            shares[schedule, variance] = probe.set_knob(w, "variance", variance)["top10_share"]
    bad = probe.failure(w)
    assert bad["top10_share"] >= max(shares.values()) - 1e-3
    assert bad["top10_share"] > 0.9


def test_path_compare_spread_and_one_step_euler(widget):
    probe, w = widget("path-compare")
    mid = probe.set_knob(w, "t", 0.5)
    # linear: alpha^2 + sigma^2 = 1/2 at t = 1/2 shrinks the cloud; VP keeps it near one
    assert mid["rms_linear"] < 0.85 < mid["rms_vp"]
    bad = probe.failure(w)
    assert bad["steps"] == 1
    assert bad["end_error_linear"] < 1e-9  # a straight path at constant speed: Euler is exact
    assert bad["end_error_vp"] > 0.3  # the tangent at t = 0 misses the arc's end
    many = probe.set_knob(w, "steps", 16)
    assert many["end_error_vp"] < bad["end_error_vp"] / 8  # first order: error ~ 1 / steps
