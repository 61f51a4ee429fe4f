"""Lesson 15's widget and its data: site/baked/hybrid/swap-pairs.json is cut from the lab's
exp50 results (bake_hybrid --check), every example's verdict follows from its pixels, and the
widget mounts offline and shows the bag of words at its ceiling on the failure button."""

from __future__ import annotations

import json

import numpy as np
from browser_harness import SITE, load_site_module

from generative.discrete.data.shapes import PALETTE
from generative.hybrid.captions import encode
from generative.hybrid.score import NEAR, snap

PAGE = "15-hybrid-pipelines.html"


def test_bake_hybrid_matches_the_lab():
    assert load_site_module("bake_hybrid").main(["--check"]) == 0


def test_baked_verdicts_follow_from_the_pixels():
    baked = json.loads((SITE / "baked" / "hybrid" / "swap-pairs.json").read_text())
    colours = np.concatenate([[[0, 0, 0]], PALETTE]).astype(np.uint8)
    for arm in baked["arms"].values():
        for ex in arm["examples"].values():
            idx = np.array([[int(c) for c in s] for s in ex["pixels"]])
            images = colours[np.minimum(idx, 4)].reshape(-1, 16, 16, 3)
            images[idx.reshape(-1, 16, 16) == 9] = [255, 0, 255]  # off-palette stays off
            s, a = snap(images), encode(ex["captions"]).attrs.numpy()
            ok = (s.labels[:, :, 0] == a[:, [0, 2]]) & (s.labels[:, :, 1] == a[:, [1, 3]])
            assert ok.all(1).tolist() == ex["binding"]
            assert (s.distance <= NEAR).all(1).tolist() == ex["near_valid"]


def test_widget_mounts_offline_and_its_failure_is_the_bag_of_words(open_page):
    probe = open_page(PAGE)
    w = probe.page.locator('.widget[data-widget="hybrid-binding"]')
    assert w.get_attribute("data-mounted") == "true"
    before = probe.state(w)
    after = probe.failure(w)
    assert after["arm"] == "bow-xattn" and after["swap_colour"] <= 0.55
    assert before["arm"] != after["arm"] and after["shown_bound"] <= before["shown_bound"]
    assert probe.errors == [], probe.errors
    assert probe.offsite() == [], probe.offsite()
