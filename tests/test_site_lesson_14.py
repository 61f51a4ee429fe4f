"""Lesson 14's widgets and their baked data (site/bake_think.py, from exp41's models).

The baked tokens must imply the stored checker readings (no weights needed); surgery's untouched
half must equal the original token for token; the widgets mount offline with no console error;
editing the trace answer changes the drawing; the surgery widget counts, from the pixels it
draws, no changed pixel in the untouched half, and its failure shows regeneration changing it.
"""

from __future__ import annotations

import json

import pytest
from browser_harness import ROOT, SITE, load_site_module

BAKED = SITE / "baked" / "think"
PAGE = "14-reasoning-plus-image-generation.html"
EXP41 = ROOT / "benchmarks" / "results" / "exp41_think.json"


def _baked(name: str) -> dict:
    return json.loads((BAKED / f"{name}.json").read_text())


def test_baked_readings_follow_from_the_tokens():
    bake = load_site_module("bake_think")
    stored = {n: _baked(n) for n in ("think-edit", "token-surgery")}
    assert bake.check_stored(stored) == []


@pytest.mark.skipif(
    not (ROOT / "benchmarks" / ".cache" / "exp41" / "showo.pt").is_file(),
    reason="exp41's weights are not cached here (they are gitignored)",
)
def test_bake_check_re_decodes_with_exp41_s_weights():
    """With the weights baked from, a fresh bake equals the committed files token for token."""
    assert load_site_module("bake_think").check() == []


def test_baked_prompts_and_edits_are_the_experiment_s():
    exp41 = json.loads(EXP41.read_text())
    te = _baked("think-edit")
    for p in te["prompts"]:
        assert [p["a"], p["b"]] in exp41["pairs"][p["split"]]
        offered = [f["c"] for f in p["think"]["forced"]]
        assert p["a"] + p["b"] in offered and offered == [
            f["c"] for f in p["counterfactual"]["forced"]
        ]
        assert "forced" not in p["direct"]
    assert {p["split"] for p in te["prompts"]} == {"trained", "held_out"}
    assert (
        te["exp41_accuracy"]["think"]["held_out"] == exp41["think"]["think"]["held_out"]["accuracy"]
    )


def test_surgery_keeps_the_untouched_half_token_for_token():
    from generative.unified.surgery import half_positions

    bake = load_site_module("bake_think")
    ts = _baked("token-surgery")
    moved = 0
    for e in ts["edits"]:
        orig = bake.dec(ts["scenes"][e["scene"]]["tokens"])
        keep = (~half_positions(e["half"])).tolist()
        for name in ("surgery", "regeneration"):
            out = bake.dec(e[name]["tokens"])
            same = all(o == x for o, x, k in zip(orig, out, keep, strict=True) if k)
            if name == "surgery":
                assert same and e[name]["untouched_changed"] == 0
            else:
                moved += not same
    assert moved > 0  # regeneration rewrites the untouched half (the widget's failure)


@pytest.fixture
def page(open_page):
    probe = open_page(PAGE)
    yield probe
    assert probe.errors == [], probe.errors
    assert probe.offsite() == [], probe.offsite()


def _widget(probe, name):
    w = probe.page.locator(f'.widget[data-widget="{name}"]')
    assert w.get_attribute("data-mounted") == "true"
    return w


def test_both_widgets_mount_clean_and_offline(page):
    names = [
        page.widgets().nth(i).get_attribute("data-widget") for i in range(page.widgets().count())
    ]
    assert {"think-edit", "token-surgery"} <= set(names)
    for n in ("think-edit", "token-surgery"):
        _widget(page, n)


def test_editing_the_trace_changes_the_drawing(page):
    w = _widget(page, "think-edit")
    prompts = _baked("think-edit")["prompts"]
    p = prompts[0]
    forced = {str(f["c"]): f for f in p["think"]["forced"]}
    seen = {}
    picture = w.locator("canvas").first.screenshot()
    for c, f in forced.items():
        s = page.set_knob(w, "answer", c)
        assert (s["model"], s["trace"], s["drawn"], s["tokens"]) == (
            "think",
            int(c),
            f["drawn"],
            f["tokens"],
        )
        seen[c] = s["tokens"]
    assert len(set(seen.values())) > 1  # a different thought, a different drawing
    assert w.locator("canvas").first.screenshot() != picture
    own = page.set_knob(w, "answer", "own")
    assert own["tokens"] == p["think"]["tokens"] and own["trace"] == p["think"]["trace"]


def test_think_edit_failure_is_the_direct_model_on_a_held_out_pair(page):
    w = _widget(page, "think-edit")
    s = page.failure(w)
    assert s["model"] == "direct" and s["split"] == "held_out" and s["trace"] is None
    p = _baked("think-edit")["prompts"][int(s["prompt"])]
    assert s["tokens"] == p["direct"]["tokens"] and s["correct"] == (
        p["direct"]["drawn"] == p["a"] + p["b"]
    )


def test_surgery_widget_counts_no_change_in_the_untouched_half(page):
    w = _widget(page, "token-surgery")
    ts = _baked("token-surgery")
    for i, e in enumerate(ts["edits"][:6]):
        page.set_knob(w, "scene", e["scene"])
        same_scene = [j for j, f in enumerate(ts["edits"]) if f["scene"] == e["scene"]]
        s = page.set_knob(w, "edit", same_scene.index(i))  # the knob counts within a scene
        assert s["half"] == e["half"] and s["caption"] == e["caption"]
        assert s["surgery_untouched_changed"] == 0  # counted from the pixels the page draws
        assert s["regeneration_untouched_changed"] == e["regeneration"]["untouched_changed"]
    bad = page.failure(w)
    worst = max(e["regeneration"]["untouched_changed"] for e in ts["edits"])
    assert bad["regeneration_untouched_changed"] == worst > 0
    assert bad["surgery_untouched_changed"] == 0
