"""Lessons 10 and 12's widgets and their baked traces (site/bake_partb.py).

The traces are re-computed (a subset, to stay fast) and must equal the committed files; the
widgets mount offline with no console error; scrubbing changes the frames; the choice
temperature 0 failure shows a lower validity in the page; the JS patch decoder draws the same
pixels as the package's exact tokenizer.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from browser_harness import SITE, load_site_module

from generative.discrete.data.patch_tokenizer import PatchTokenizer

BAKED = SITE / "baked" / "partb"
SCRUB, ROUNDS = "10-why-discrete.html", "12-masked-and-discrete-diffusion.html"


def _baked(name: str) -> dict:
    return json.loads((BAKED / f"{name}.json").read_text())


def test_bake_partb_check_passes_on_a_subset():
    """decode-scrub in full and every 9th unmask-rounds setting, re-computed from scratch."""
    assert load_site_module("bake_partb").check(unmask_every=9) == []


def test_exact_autoregressive_draws_are_all_valid():
    """Sampling each token from the exact p(x_i | x_<i, c) is exact sampling: every AR draw is a
    clean scene of its class, while MaskGIT in 4 rounds (same posterior) breaks some."""
    runs = _baked("decode-scrub")["runs"]
    assert runs["ar"]["valid_share"] == 1.0
    assert runs["maskgit-4"]["valid_share"] < 0.9
    assert all(r["step"] == load_site_module("bake_partb").enc(range(1, 65), 1)
               for r in runs["ar"]["rows"])  # fmt: skip


def _canvas_png(widget) -> bytes:
    return widget.locator("canvas").first.screenshot()


@pytest.mark.parametrize("page_name", [SCRUB, ROUNDS])
def test_widgets_mount_clean_and_offline(open_page, page_name):
    probe = open_page(page_name)
    names = [
        probe.widgets().nth(i).get_attribute("data-widget") for i in range(probe.widgets().count())
    ]
    want = "decode-scrub" if page_name == SCRUB else "unmask-rounds"
    assert want in names
    w = probe.page.locator(f'.widget[data-widget="{want}"]')
    assert w.get_attribute("data-mounted") == "true"
    assert probe.errors == [], probe.errors
    assert probe.offsite() == [], probe.offsite()


def test_scrubbing_changes_the_frames(open_page):
    probe = open_page(SCRUB)
    w = probe.page.locator('.widget[data-widget="decode-scrub"]')
    start = probe.set_knob(w, "call", 0)
    assert (start["ar_fixed"], start["mg_fixed"], start["md_fixed"]) == (0, 0, 0)
    empty = _canvas_png(w)
    mid = probe.set_knob(w, "call", 8)
    assert mid["ar_fixed"] == 8  # one token a call
    assert mid["mg_fixed"] == 64 and mid["mg_done"]  # T = 8 rounds: finished
    assert 0 < mid["md_fixed"] < 64  # MDLM, 16 steps: half way
    assert _canvas_png(w) != empty
    end = probe.set_knob(w, "call", 64)
    assert end["ar_fixed"] == end["md_fixed"] == 64 and end["ar_valid"]
    assert probe.errors == []


def test_choice_temperature_zero_shows_the_failure(open_page):
    probe = open_page(ROUNDS)
    w = probe.page.locator('.widget[data-widget="unmask-rounds"]')
    default = probe.settled(w)

    def read() -> int:  # the validity the reader sees, from the DOM
        text = w.locator(".readout").inner_text()
        return int(re.search(r"gives (\d+)% valid", text).group(1))

    before, picture = read(), _canvas_png(w)
    bad = probe.failure(w)
    assert bad["choice_temperature"] == "0" and bad["call"] == bad["nfe"]
    after = read()
    assert after < before / 3, (before, after)
    assert _canvas_png(w) != picture
    # the page shows the baked numbers: the exact checker's share of the batch
    cells = {(s["T"], s["schedule"], s["choice_temperature"], s["corrector"]): s
             for s in _baked("unmask-rounds")["settings"]}  # fmt: skip
    want = cells[(int(default["T"]), "cosine", 0.0, 0)]["valid_share"]
    assert after == math.floor(100 * want + 0.5)  # JS Math.round
    assert default["trained_shown"] and bad["trained_shown"]  # exp30's trace at both settings
    # the scrubber walks the rounds: after call 0 nothing is fixed, the picture differs
    assert probe.set_knob(w, "call", 0)["call"] == 0
    assert _canvas_png(w) != picture
    assert probe.errors == []


def test_js_patch_decoder_matches_the_tokenizer(open_page):
    probe = open_page(SCRUB)
    tok = PatchTokenizer()
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, tok.vocab_size, (5, tok.seq_len), generator=g)
    got = probe.page.evaluate(
        """async ([rows, palette]) => {
            const m = await import('/widgets/lib/tokens.js');
            return rows.map(r => Array.from(m.tokenPixels(r, palette)));
        }""",
        [tokens.tolist(), tok.palette.tolist()],
    )
    want = tok.decode(tokens).reshape(5, -1)
    assert got == want.tolist()
