"""Lesson 13's widget (site/widgets/unified-prompt.js) and its baked traces (site/bake_unified.py).

The traces are checked without a network (no training here): every written image's verdict is
the exact checker's, every span report is re-read from the written ids, the grammar-on spans are
all 64 image tokens while some grammar-off spans break. In the browser: the widget mounts offline
with no console error, scrubbing the calls changes the canvas, the failure switch shows the
broken span in the page, and the caption an image gets is the baked one.
"""

from __future__ import annotations

import json
import re

import numpy as np
import torch
from browser_harness import SITE, load_site_module

from generative.discrete.data.checker import check
from generative.discrete.data.patch_tokenizer import PatchTokenizer

BAKED = SITE / "baked" / "unified"
PAGE = "13-unified-token-transformers.html"
WIDGET = '.widget[data-widget="unified-prompt"]'


def _baked(name: str) -> dict:
    return json.loads((BAKED / f"{name}.json").read_text())


def _bake():
    return load_site_module("bake_unified")


def test_stored_traces_pass_the_bake_check():
    """Verdicts, span reports and i2t truths, re-derived from the stored tokens."""
    bake = _bake()
    assert bake.check_stored({n: _baked(n) for n in bake.NAMES}) == []


def test_written_images_are_valid_exactly_where_the_bake_says():
    t2i, bake = _baked("t2i"), _bake()
    for name, run in t2i["runs"].items():
        codes = torch.tensor([bake.dec(r["tokens"]) for r in run["rows"]])
        assert codes.shape == (len(t2i["captions"]) * t2i["draws"], 64), name  # never short
        valid = check(PatchTokenizer().decode(codes)).valid
        assert valid.tolist() == [r["valid"] for r in run["rows"]], name
        assert run["valid_share"] == valid.mean()
    # the trained causal model writes mostly clean scenes at temperature 1 (exp40: about 90%)
    assert t2i["runs"]["chameleon-1"]["valid_share"] > 0.5


def test_markers_off_breaks_spans_that_the_grammar_keeps():
    off, bake = _baked("markers-off"), _bake()
    v = load_vocab()
    broke_somewhere = False
    for name, run in off["runs"].items():
        for r in run["rows"]:
            ids = bake.dec_ids(r["written"])
            n = next((i for i, t in enumerate(ids) if not bool(v.is_image(t))), len(ids))
            assert r["image_tokens"] == n
            well_formed = n == 64 and ids[n] == v.EOI
            assert r["span_ok"] == well_formed
            assert r["valid"] <= well_formed  # a broken span has no image, never a valid one
            broke_somewhere |= not well_formed
        shares = np.mean([r["span_ok"] for r in run["rows"]])
        assert run["span_ok_share"] == shares, name
    assert broke_somewhere, "no free draw broke its span: the failure switch would show nothing"


def load_vocab():
    from generative.unified.vocab import Vocab

    return Vocab()


def _canvas_png(widget) -> bytes:
    return widget.locator("canvas").first.screenshot()


def test_widget_mounts_clean_and_offline(open_page):
    probe = open_page(PAGE)
    w = probe.page.locator(WIDGET)
    assert w.get_attribute("data-mounted") == "true"
    assert probe.errors == [], probe.errors
    assert probe.offsite() == [], probe.offsite()


def test_stepping_writes_the_image(open_page):
    probe = open_page(PAGE)
    w = probe.page.locator(WIDGET)
    start = probe.set_knob(w, "call", 0)
    assert (start["cham_image"], start["showo_written"]) == (0, 0)
    empty = _canvas_png(w)
    mid = probe.set_knob(w, "call", 8)
    assert mid["cham_image"] == 8  # one token a call, raster order
    assert mid["showo_done"] and mid["showo_written"] == 64  # 8 rounds: the span is full
    assert _canvas_png(w) != empty
    end = probe.set_knob(w, "call", 66)
    assert end["cham_done"] and end["cham_written"] == 66  # 64 codes, EOI, EOS
    assert w.locator(".stream .tok.img").count() == 64
    assert probe.errors == []


def test_markers_off_shows_the_broken_span(open_page):
    probe = open_page(PAGE)
    w = probe.page.locator(WIDGET)
    assert "Grammar on" in w.locator(".readout").first.inner_text()
    state = probe.failure(w)
    assert state["markers"] is False and state["span_broken"]
    text = w.locator(".readout").first.inner_text()  # what the reader sees
    m = re.search(r"the span held (\d+) image tokens, then", text)
    assert m, text
    t2i, off = _baked("t2i"), _baked("markers-off")
    i = t2i["captions"].index(state["caption"]) * t2i["draws"] + int(state["draw"])
    row = off["runs"][state["temperature"]]["rows"][i]
    assert int(m.group(1)) == row["image_tokens"] and not row["span_ok"]
    assert w.locator(".stream .broken").count() == 1  # the id that broke it, outlined
    v = load_vocab()
    written = _bake().dec_ids(row["written"])  # all of it is shown at the last call
    assert w.locator(".stream .tok.img").count() == sum(bool(v.is_image(t)) for t in written)
    assert probe.errors == []


def test_reading_an_image_shows_the_baked_caption(open_page):
    probe = open_page(PAGE)
    w = probe.page.locator(WIDGET)
    rows = _baked("i2t")["rows"]
    state = probe.set_knob(w, "image", 3)
    text = w.locator(".captions").inner_text()
    assert f"truth: “{rows[3]['truth']}”" in text
    assert f"Chameleon writes “{state['i2t_chameleon']}”" in text
    v = load_vocab()
    written = [t for t in rows[3]["written"]["chameleon"] if t != v.EOS]
    assert state["i2t_chameleon"] == v.decode_text(written)
