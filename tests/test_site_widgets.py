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
    assert at1["outside_view"] == 0 and at1["scale_disabled"] is True  # the knob says why it is off
    # standardized, the scale knob changes nothing, so it is disabled rather than silently inert
    assert probe.set_knob(w, "scale", 6)["data_rms"] == pytest.approx(at1["data_rms"])
    probe.set_knob(w, "scale", 1)
    bad = probe.failure(w)
    assert bad["standardize"] is False and bad["scale"] == 5 and bad["scale_disabled"] is False
    assert bad["data_rms"] > 3 and bad["mean_speed"] > 2 * at1["mean_speed"]
    # on screen: the view stays at the prior's scale and a large share of particles leaves it
    assert bad["outside_view"] > 0.3


def test_pt_slices_noise_end_is_one_hump_and_the_failure_hides_the_moons(widget):
    probe, w = widget("pt-slices")
    fine = probe.set_knob(w, "bandwidth", 0.1)
    assert fine["modes_noise"] == 1  # t = 0: a standard normal along any axis
    assert fine["modes_data"] >= 2
    for angle in (0, 45, 90, 135):
        assert probe.set_knob(w, "angle", angle)["modes_data"] >= 2
    bad = probe.failure(w)
    assert bad["modes_data"] == 1
    readout = w.locator(".readout").inner_text()
    assert "moons" in readout and "modes" not in readout  # counts humps, never claims "3 modes"


def test_pt_slices_dragged_holds_the_page_for_no_redraw(widget):
    """30 input events in one burst (a fast drag): each handler returns at once and the burst
    costs at most two redraws, the first and the last value, never 30."""
    probe, w = widget("pt-slices")
    probe.set_knob(w, "slices", 24)
    got = w.evaluate(
        """root => { const el = root.querySelector('[data-knob="angle"]');
            let redraws = 0, worst = 0;
            new MutationObserver(() => redraws++).observe(root, {attributeFilter: ['data-state']});
            for (let a = 0; a <= 145; a += 5) {
                const t0 = performance.now();
                el.value = String(a);
                el.dispatchEvent(new Event('input', {bubbles: true}));
                worst = Math.max(worst, performance.now() - t0);
            }
            return new Promise(r => setTimeout(() => r({redraws, worst}), 500)); }"""
    )
    assert got["worst"] < 50
    assert 1 <= got["redraws"] <= 2
    assert probe.settled(w)["angle"] == 145


def test_plot_clips_points_and_lines_to_its_frame(widget):
    """A cloud and a line far outside the box leave the margin (labels, axes) unpainted."""
    probe, _ = widget("pt-slices")
    painted = probe.page.evaluate(
        """async () => {
            const { Plot } = await import('/widgets/lib/plot.js');
            const { drawCloud } = await import('/widgets/lib/cloud.js');
            const div = document.createElement('div');
            div.style.width = '300px';
            document.body.appendChild(div);
            const c = document.createElement('canvas');
            div.appendChild(c);
            const p = new Plot(c, { xlim: [-1, 1], ylim: [-1, 1], pad: 30 }).fit();
            const xs = Float64Array.from([5, 5, -5, 0, 0, 9, 1.2, -1.2]);
            drawCloud(p, xs, 4, { size: 6, alpha: 1 });
            p.points([[3, 0], [0, -3]], { r: 5, alpha: 1 });
            p.line([[-4, -4], [4, 4]], { width: 4 });
            p.arrow([0.9, 0.9], [2, 2], { width: 3 });
            const ctx = c.getContext('2d');
            const dpr = window.devicePixelRatio || 1;
            const { data } = ctx.getImageData(0, 0, c.width, c.height);
            let margin = 0, inside = 0;
            for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
                const a = data[4 * (y * c.width + x) + 3];
                const m = 30 * dpr;
                const inFrame = x >= m && x < c.width - m && y >= m && y < c.height - m;
                if (a) inFrame ? inside++ : margin++;
            }
            div.remove();
            return { margin, inside };
        }"""
    )
    assert painted["inside"] > 100  # the diagonal line crosses the frame
    assert painted["margin"] == 0


@pytest.mark.parametrize(("schedule", "T"), [("linear", 1000), ("cosine", 1000), ("cosine", 50)])
def test_forward_schedule_alpha_bar_matches_the_package(widget, schedule, T):
    probe, w = widget("forward-schedule")
    probe.set_knob(w, "schedule", schedule)
    probe.set_knob(w, "T", T)
    ddpm = DDPM(schedule, T)
    for k in (1, T // 3, T):  # k = 1..T as lessons 02 and 04 write it; the package's index is k - 1
        state = probe.set_knob(w, "k", k)
        assert state["k"] == k
        assert state["alpha_bar"] == pytest.approx(ddpm.alphas_cumprod[k - 1].item(), rel=1e-5)


def test_forward_schedule_failure_is_a_chain_that_never_reaches_noise(widget):
    probe, w = widget("forward-schedule")
    good = probe.set_knob(w, "T", 1000)
    assert good["alpha_bar_end"] < 1e-4
    bad = probe.failure(w)
    assert (bad["schedule"], bad["T"], bad["k"]) == ("linear", 50, 50)
    assert bad["alpha_bar_end"] == pytest.approx(DDPM("linear", 50).alphas_cumprod[-1].item())
    assert bad["signal_end"] > 0.5  # more than half the signal amplitude survives the whole chain
    # on screen, beside the prior: the chain's end still sorts points by their moon, the prior and
    # a long chain's end do not (0.5 is chance)
    assert bad["end_remembers"] > 0.75
    assert abs(good["end_remembers"] - 0.5) < 0.1 and abs(bad["prior_remembers"] - 0.5) < 0.1


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


def test_loss_weights_cosine_with_beta_is_the_most_lopsided_setting(widget):
    """Lesson 03's text: cosine with sigma^2 = beta puts most of the ELBO on a few noisy steps.
    (The widget's failure button is the x0 target: tests/test_site_lessons_03_06_09.py.)"""
    probe, w = widget("loss-weights")
    shares = {}
    for schedule in ("linear", "cosine"):
        for variance in ("beta", "beta_tilde"):
            probe.set_knob(w, "schedule", schedule)
            shares[schedule, variance] = probe.set_knob(w, "variance", variance)["top10_share"]
    assert max(shares, key=shares.get) == ("cosine", "beta")
    assert shares["cosine", "beta"] > 0.9


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


@pytest.mark.parametrize("name", ["path-drag", "path-compare"])
def test_play_sweeps_t_to_the_end(widget, name):
    probe, w = widget(name)
    probe.set_knob(w, "t", 0)
    w.locator('[data-action="play"]').click()
    probe.page.wait_for_function(
        "el => JSON.parse(el.dataset.state).t === 1 && !el.dataset.busy",
        arg=w.element_handle(),
        timeout=15000,
    )
    assert w.locator('[data-action="play"]').inner_text().startswith("▶")  # stopped at the end
