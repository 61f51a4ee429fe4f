"""Lesson 09's few-step widget (site/widgets/few-step.js) and its data (site/bake_few_step.py,
cut from exp14's results): the bake matches the lab, each trajectory ends at its sample, the
widget mounts offline, every knob redraws within 50 ms and echoes its value, the failure setting
(base FM at 1 NFE) visibly collapses onto the mean, and the lesson states exp14's numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from browser_harness import ROOT, SITE, load_site_module

PAGE = "09-practical-knobs.html"
EXP14 = json.loads((ROOT / "benchmarks" / "results" / "exp14_few_step.json").read_text())
BAKED = json.loads((SITE / "baked" / "few-step.json").read_text())
INPUT_MS = 50


def _spread(x) -> float:
    x = np.asarray(x)
    return float(np.sqrt(((x - x.mean(0)) ** 2).sum(1).mean()))


def test_bake_few_step_matches_the_lab():
    assert load_site_module("bake_few_step").main(["--check"]) == 0


def test_baked_trajectories_are_the_solver_s_states_of_the_samples():
    """Each path starts in the prior's range, has one state per NFE plus the noise, and its last
    state is its sample (the examples come from one sampling call, not two)."""
    assert BAKED["nfes"] == ["1", "2", "4", "8"]
    for name, arm in BAKED["arms"].items():
        assert arm["ratio"] == {k: EXP14["numbers"][name]["ratio"][k] for k in BAKED["nfes"]}
        for k, ex in arm["examples"].items():
            paths, x = np.asarray(ex["paths"]), np.asarray(ex["samples"])
            assert paths.shape == (30, int(k) + 1, 2), (name, k, paths.shape)
            np.testing.assert_allclose(paths[:, -1], x[: len(paths)], atol=1e-9)
            assert 0.6 < paths[:, 0].std() < 1.4, (name, k)  # N(0, I) noise, 30 draws


def test_widget_mounts_knobs_are_fast_and_the_failure_collapses_to_the_mean(open_page):
    probe = open_page(PAGE)
    w = probe.page.locator('.widget[data-widget="few-step"]')
    assert w.get_attribute("data-mounted") == "true"
    seen = {}
    for name in BAKED["arms"]:
        state = probe.set_knob(w, "method", name)
        assert state["method"] == name
        for k in BAKED["nfes"]:
            state = probe.set_knob(w, "nfe", k)
            assert state["nfe"] == k and state["n_samples"] == 300
            # the lab's number (publish keeps 6 significant digits)
            assert state["ratio"] == pytest.approx(BAKED["arms"][name]["ratio"][k], rel=1e-5)
            seen[(name, k)] = state
    slow = [t for t in probe.timings if t[3] > INPUT_MS]
    assert not slow, f"knob handlers over {INPUT_MS} ms: {slow}"
    # the widget's own spread agrees with the published samples'
    base = BAKED["arms"]["base FM"]["examples"]["1"]["samples"]
    assert abs(seen[("base FM", "1")]["spread"] - _spread(base)) < 1e-3
    bad = probe.failure(w)
    assert (bad["method"], bad["nfe"]) == ("base FM", "1")
    # collapsed: the cloud is a small blob near the data's mean (0 in standardized units) ...
    assert bad["spread"] < 0.35 * bad["data_spread"]
    assert np.linalg.norm(np.mean(base, 0)) < 0.3
    # ... while a straightened method at the same budget spreads like the data
    good = seen[("reflow", "1")]
    assert 0.8 * good["data_spread"] < good["spread"] < 1.2 * good["data_spread"]
    assert bad["ratio"] > 5 * good["ratio"]
    readout = w.locator(".readout").inner_text()
    assert f"{EXP14['numbers']['base FM']['ratio']['1']:.2f}x the floor" in readout
    assert probe.errors == [], probe.errors
    assert probe.offsite() == [], probe.offsite()


def test_lesson_states_exp14_s_numbers(built_site):
    html = (built_site.out / PAGE).read_text()
    n = EXP14["numbers"]
    assert "None of them was measured" not in html
    assert 'data-widget="few-step"' in html
    for arm in ("OT-CFM", "reflow", "reflow + CD"):
        assert f"{n[arm]['ratio']['1']:.2f}" in html and f"{n[arm]['cpu_vs_base']:.2f}" in html
    assert f"{n['base FM']['ratio']['1']:.1f}" in html
    assert f"{n['DDPM + DDIM']['ratio']['1']:.1f}" in html
    assert f"{n['reflow + CD, re-noised']['ratio']['8']:.1f}" in html
    assert "<code>exp14_few_step</code>" in html
    for unmeasured in ("DPM-Solver", "churn", "EDM", "Latent diffusion"):
        assert unmeasured in html
