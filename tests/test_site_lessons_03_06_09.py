"""Lessons 03, 06 and 09 in Chromium (issue 19): the two widgets that run a sampler over
thousands of points (solver-steps, knob-board) never hold the page, neither on their first draw
nor on their first knob change, since their samplers run in a worker; lesson 03's loss-weights
shows samples of models trained on each target, and its failure (the x0 target) blurs them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from browser_harness import load_site_module

from generative.continuous.diffusion import DDPM

INPUT_MS = 50  # the longest a knob's input handler or a redraw may hold the page (issue 19)
# the longest block a heartbeat on the page may see: a loose guard against a gross freeze, since
# on the shared 2-core test machine (load average 9-12) the OS alone delays a beat: with the
# samplers in workers the beats were 20-180 ms apart, with them on the page 80-360 ms. The checks
# that separate the two do not depend on load: mount returns before any sampler ran, and a timer
# set after a knob change fires while the sampler still runs.
FREEZE_MS = 250
LIGHT_PAGE = "index.html"  # no widget of its own: the widget under test is the only one

# Mounts the widget alone on a quiet page with a heartbeat (a 0 ms timer chain) beside it: the
# longest gap between beats is the longest the page was frozen. Then one knob change, with a
# timer set just after it: it must fire while the widget still waits on its worker.
MEASURE = """async ([name, knob, value]) => {
  const m = await import(`/widgets/${name}.js`);
  const root = Object.assign(document.createElement("div"), { className: "widget" });
  root.dataset.widget = name;
  document.body.appendChild(root);
  let worst = 0, last = performance.now(), on = true;
  const beat = () => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
    if (on) setTimeout(beat, 0);
  };
  const busy = () => Boolean(root.dataset.busy);
  const done = () => !busy() && root.dataset.state && !JSON.parse(root.dataset.state).pending;
  const later = (ms) => new Promise((r) => setTimeout(r, ms));
  // settled, then one more beat: the gap after a block is seen only by the beat that ends it
  const settled = async () => {
    while (!done()) await later(5);
    await later(10);
  };
  setTimeout(beat, 0);
  await later(20);
  worst = 0;
  let t0 = performance.now();
  await m.mount(root);
  const mountedPending = busy(); // mount returned before any sampler ran
  await settled();
  const work = () => Number(root.dataset.workMs);
  const first = { freeze: worst, mountedPending, ms: performance.now() - t0, work: work() };
  worst = 0;
  const el = root.querySelector(`[data-knob="${knob}"]`);
  t0 = performance.now();
  el.value = String(value);
  el.dispatchEvent(new Event("input", { bubbles: true }));
  const handler = performance.now() - t0;
  const freeWhileBusy = await new Promise((r) => setTimeout(() => r(busy()), 0));
  await settled();
  on = false;
  const ms = performance.now() - t0;
  const change = { freeze: worst, handler, freeWhileBusy, ms, work: work() };
  return { first, change, state: JSON.parse(root.dataset.state) };
}"""


# the knob change asks for the costliest solve each widget offers at its first redraw
@pytest.mark.parametrize(
    ("name", "knob", "value", "nfe"),
    [("solver-steps", "solver", "rk4", 32), ("knob-board", "steps", 100, 100)],
)
def test_heavy_widgets_never_hold_the_page(open_page, name, knob, value, nfe):
    probe = open_page(LIGHT_PAGE)
    got = probe.page.evaluate(MEASURE, [name, knob, value])
    first, change = got["first"], got["change"]
    print(f"{name}: first draw {first}, first change {knob}={value} {change}")
    assert probe.errors == []
    assert got["state"][knob] == value and got["state"]["nfe"] == nfe  # the new setting's samples
    # first draw: mount returns before any sampler ran, and the page's share of it is drawing
    assert first["mountedPending"], f"{name}: mount ran its samplers on the page's thread"
    assert first["work"] < INPUT_MS and first["freeze"] < FREEZE_MS
    # first change: the handler returns at once, the page runs other tasks while the worker
    # computes, and the redraw that shows the result is drawing only
    assert change["handler"] < INPUT_MS
    assert change["freeWhileBusy"], f"{name}: a timer set after the change waited for the sampler"
    assert change["work"] < INPUT_MS and change["freeze"] < FREEZE_MS


def test_heavy_widgets_on_their_lesson_pages(open_page):
    """On the lesson pages: the first draw is drawing only, and a knob change's handler and
    redraw stay within INPUT_MS."""
    for page, name, knob, value in (
        ("06-flow-matching-euler.html", "solver-steps", "steps", 32),
        ("09-practical-knobs.html", "knob-board", "steps", 100),
    ):
        probe = open_page(page)
        w = probe.page.locator(f'.widget[data-widget="{name}"]')
        probe.settled(w)
        # the first draw's share of this thread: drawing, plus the first layout of the whole
        # lesson (the canvas reads its width), 2-22 ms when measured, more on a loaded machine
        assert float(w.get_attribute("data-work-ms")) < FREEZE_MS
        state = probe.set_knob(w, knob, value)
        assert state[knob] == value and "pending" not in state
        _, _, _, handler, work = probe.timings[-1]
        assert handler < INPUT_MS and work < INPUT_MS, (name, probe.timings[-1])
        assert not [e for e in probe.errors if name in e]


# -- lesson 03: loss-weights, the targets' weights and samples ----------------------------------

PAGE_03 = "03-ddpm-elbo-to-l-simple.html"
bake = load_site_module("bake")


def _target_weight(target: str, schedule: str, T: int) -> torch.Tensor:
    """What L_simple on `target` weighs |eps-hat - eps|^2 by at k = 1..T-1, read off the package's
    own conversion: an error in the target's units, turned into eps units by DDPM.eps_and_x0."""
    d = DDPM(schedule, T, target=target)
    abar = d.alphas_cumprod[1:]
    gen = torch.Generator().manual_seed(0)
    x0, eps, delta = (torch.randn(len(abar), 2, generator=gen, dtype=torch.float64) for _ in "abc")
    x = abar.sqrt()[:, None] * x0 + (1 - abar).sqrt()[:, None] * eps
    v = abar.sqrt()[:, None] * eps - (1 - abar).sqrt()[:, None] * x0
    truth = {"eps": eps, "x0": x0, "v": v}[target]
    eps_hat, _ = d.eps_and_x0(truth + delta, x, abar)  # the target off by delta
    return delta.pow(2).sum(1) / (eps_hat - eps).pow(2).sum(1)


@pytest.fixture
def loss_weights(open_page):
    probe = open_page(PAGE_03)
    yield probe, probe.page.locator('.widget[data-widget="loss-weights"]')
    assert probe.errors == []


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_loss_weights_target_lines_match_the_package(loss_weights, schedule):
    probe, w = loss_weights
    probe.set_knob(w, "schedule", schedule)
    for target in ("eps", "v", "x0"):
        state = probe.set_knob(w, "target", target)
        lam = _target_weight(target, schedule, state["T"])
        norm = lam / lam.mean()
        clean = norm[: -(-len(norm) // 10)].sum() / len(norm)  # the cleanest tenth of the steps
        assert state["clean_share"] == pytest.approx(clean.item(), rel=1e-4), target


def _off_data(points: np.ndarray, ref: np.ndarray) -> float:
    """Share of points farther than OFF_DATA from every reference point (cloud.js's rule)."""
    d2 = ((points[:, None, :] - ref[None, :, :]) ** 2).sum(-1).min(1)
    return float((d2 > 0.25**2).mean())


def test_loss_weights_failure_is_the_x0_target_blurring_the_moons(loss_weights):
    probe, w = loss_weights
    good = {t: probe.set_knob(w, "target", t) for t in ("eps", "v")}
    bad = probe.failure(w)
    assert bad["target"] == "x0"
    # on screen: the x0 model's samples, scored in the page, leave the moons several times as
    # often as eps's or v's, and their W2 (baked beside a perfect sampler's) is far worse
    worst = max(s["off_data"] for s in good.values())
    assert bad["off_data"] > max(3 * worst, 0.04), (bad, good)
    assert bad["w2_ratio"] > 1.5 * max(s["w2_ratio"] for s in good.values())
    # the cause beside it: x0 puts almost none of its weight on the cleanest tenth of the steps
    assert good["eps"]["clean_share"] == pytest.approx(0.1, rel=0.02)
    assert bad["clean_share"] < 0.01
    # the panel draws the baked points: the page's share is theirs, scored here the same way
    baked = json.loads((bake.OUT / "target-samples.json").read_text())
    moons = np.array(json.loads((bake.OUT / "moons.json").read_text())["points"])
    arms = {a["target"]: np.array(a["points"]) for a in baked["arms"]}
    assert bad["off_data"] == pytest.approx(_off_data(arms["x0"], moons), abs=1e-6)
    assert good["eps"]["off_data"] == pytest.approx(_off_data(arms["eps"], moons), abs=1e-6)
