"""Lesson 11's codebook trainer: the JS (site/widgets/lib/codebook.js) against the package.

Parity: generative.discrete.tokenizers.codebook2d.train_codebook runs as it is, with every draw
of torch.randint recorded (the batches and the dead-code restarts); node replays the same data,
the same initial codebook and the same draws through the JS trainer, and the codes must agree
at every recorded step. FSQ: the same codes and indices on the same points.
Browser: the widget mounts clean and offline on lesson 11's page, its collapse preset collapses
the codebook and its EMA-without-restart preset leaves dead codes.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
from browser_harness import SITE

from generative.discrete.tokenizers.code_stats import CodeStats
from generative.discrete.tokenizers.codebook2d import Codebook2DConfig, points, train_codebook
from generative.discrete.tokenizers.fsq import FSQ

LIB = SITE / "widgets" / "lib" / "codebook.js"

# reads one job (JSON) on stdin, runs it through the JS trainer, prints the result as JSON
REPLAY = """
import { readFileSync } from "node:fs";
import { FSQ2D, VQ2D, codeStats } from "%s";
const job = JSON.parse(readFileSync(0, "utf8"));
const flat = (rows) => Float64Array.from(rows.flat());
if (job.kind === "vq") {
  const x = flat(job.x);
  const q = new VQ2D({ K: job.K, codebook: flat(job.codebook), update: job.update,
    decay: job.decay, beta: job.beta, deadThreshold: job.dead, lr: job.lr,
    kmeansInit: job.kmeans });
  const restarts = job.restarts.slice();
  const seeds = job.seeds.slice();
  const pick = (n, count) => restarts.shift();
  const draw = (n, weights) => (weights ? seeds : restarts).shift()[0];
  const out = { codebooks: [Array.from(q.e)] };
  job.batches.forEach((rows, step) => {
    const batch = new Float64Array(2 * rows.length);
    rows.forEach((r, i) => batch.set([x[2 * r], x[2 * r + 1]], 2 * i));
    q.step(batch, rows.length, pick, draw);
    if ((step + 1) %% job.every === 0) out.codebooks.push(Array.from(q.e));
  });
  const s = codeStats(q, flat(job.held), job.held.length);
  Object.assign(out, { counts: Array.from(s.counts), usage: s.usage, perplexity: s.perplexity,
    left: restarts.length + seeds.length });
  console.log(JSON.stringify(out));
} else {
  const q = new FSQ2D(job.levels);
  const got = job.points.map((p) => q.quantize(p));
  console.log(JSON.stringify({ codes: got.map((g) => g[0]), indices: got.map((g) => g[1]),
    codebook: Array.from(q.e) }));
}
"""


def run_js(job: dict) -> dict:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (apt-get install nodejs)")
    script = REPLAY % LIB.as_uri()
    run = subprocess.run(["node", "--input-type=module", "-e", script], input=json.dumps(job),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def recorded_training(monkeypatch, cfg: Codebook2DConfig):
    """train_codebook(cfg) with its random draws recorded: (result, batch rows, other randint
    draws in order (k-means' first seed, restart rows), torch.multinomial's k-means seeds)."""
    real_randint, real_multinomial = torch.randint, torch.multinomial
    batches, restarts, seeds = [], [], []

    def randint(*args, **kwargs):
        out = real_randint(*args, **kwargs)
        (batches if "generator" in kwargs else restarts).append(out.tolist())
        return out

    def multinomial(*args, **kwargs):
        out = real_multinomial(*args, **kwargs)
        seeds.append(out.tolist())
        return out

    monkeypatch.setattr(torch, "randint", randint)
    monkeypatch.setattr(torch, "multinomial", multinomial)
    res = train_codebook(cfg)
    monkeypatch.undo()
    return res, batches[: cfg.steps], restarts, seeds  # one batch is drawn past the last step


CASES = {
    "gradient VQ, random init": dict(update="loss"),
    "gradient VQ, far init": dict(update="loss", init="far"),
    "gradient VQ + restart": dict(update="loss", dead_threshold=1.0),
    "EMA": dict(update="ema"),
    "EMA + restart": dict(update="ema", dead_threshold=1.0),
    "EMA + restart, moons, K 16": dict(update="ema", dead_threshold=2.0, data="moons", K=16),
    "EMA, k-means init": dict(update="ema", init="kmeans"),
}
# Not here: gradient VQ from a k-means init. k-means leaves every code at the mean of its first
# batch, so the first codebook gradient is ~1e-8, and Adam's first step g / (|g| + 1e-8) is
# decided by rounding: the package's own float32 and float64 runs differ by 1e-2 there.


@pytest.mark.parametrize("case", CASES)
def test_js_trainer_replays_the_python_trainer(monkeypatch, case):
    cfg = Codebook2DConfig(steps=150, record_every=50, n_train=1000, n_eval=1000, seed=3,
                           **CASES[case])  # fmt: skip
    res, batches, restarts, seeds = recorded_training(monkeypatch, cfg)
    x, held = points(cfg)
    if cfg.dead_threshold > 0:
        assert restarts, "the case meant to exercise restarts never restarted a code"
    got = run_js({"kind": "vq", "x": x.tolist(), "held": held.tolist(), "K": cfg.K,
                  "codebook": res.trajectory[0].tolist(), "update": cfg.update,
                  "decay": cfg.decay, "beta": cfg.beta, "dead": cfg.dead_threshold,
                  "lr": cfg.lr, "batches": batches, "restarts": restarts, "seeds": seeds,
                  "kmeans": cfg.init == "kmeans", "every": cfg.record_every})  # fmt: skip
    assert got["left"] == 0  # JS used every draw torch made: the same seeds, the same restarts
    js = torch.tensor(got["codebooks"], dtype=torch.float64).reshape(len(got["codebooks"]), -1, 2)
    if cfg.init == "kmeans":  # the codes exist after k-means on the first batch: no step 0
        js = js[1:]
    want = torch.from_numpy(res.trajectory.astype(np.float64))
    assert js.shape == want.shape
    torch.testing.assert_close(js, want, atol=1e-4, rtol=0)
    if cfg.init == "kmeans":  # k-means put every code on the data; the codes then barely move
        assert got["usage"] > 0.9
    else:
        moved = (want[-1] - want[0]).abs().max()
        assert moved > 0.05, "the codes barely moved: the comparison would prove little"
    assert got["counts"] == res.counts.tolist()
    assert got["usage"] == pytest.approx(res.stats["usage"])
    assert got["perplexity"] == pytest.approx(res.stats["perplexity"], rel=1e-9)


def test_collapse_and_dead_codes_show_in_the_python_trainer_too(monkeypatch):
    """The widget's presets are the package's failures, not the JS's: far init + gradient VQ
    collapses to one code; EMA without restart leaves dead codes; with restarts it leaves none."""
    base = dict(steps=300, n_train=2000, n_eval=2000, seed=0)
    far = train_codebook(Codebook2DConfig(init="far", update="loss", **base)).stats
    ema = train_codebook(Codebook2DConfig(update="ema", **base)).stats
    both = train_codebook(Codebook2DConfig(update="ema", dead_threshold=1.0, **base)).stats
    assert far["usage"] == 1 / 64 and far["perplexity"] == pytest.approx(1.0)
    assert 0.1 < ema["usage"] < 0.9
    assert both["usage"] == 1.0 and both["perplexity"] > ema["perplexity"]


@pytest.mark.parametrize("levels", [[3, 3], [5, 5], [8, 5], [8, 8], [16, 16]])
def test_js_fsq_matches_the_package(levels):
    gen = torch.Generator().manual_seed(0)
    u = torch.rand(4000, 2, generator=gen, dtype=torch.float64)
    z = torch.cat([torch.atanh(0.999 * (2 * u - 1)), torch.zeros(1, 2, dtype=torch.float64)])
    fsq = FSQ(levels).double()
    out = fsq(z)
    got = run_js({"kind": "fsq", "levels": levels, "points": z.tolist()})
    torch.testing.assert_close(torch.tensor(got["codes"], dtype=torch.float64), out.z_q)
    assert got["indices"] == out.indices.tolist()
    assert len(set(got["indices"])) > 0.9 * fsq.num_codes  # the points reach nearly all the grid
    torch.testing.assert_close(
        torch.tensor(got["codebook"], dtype=torch.float64).reshape(-1, 2), fsq.codebook.double()
    )


def test_js_perplexity_is_exp_entropy_like_code_stats():
    """Four codes hit 2, 1, 1, 0 times: usage 3/4, perplexity exp(H) against CodeStats."""
    held = [[0.0, 0.0], [0.01, 0.0], [1.0, 0.0], [0.0, 1.0]]
    codebook = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]
    got = run_js({"kind": "vq", "x": held, "held": held, "K": 4, "codebook": codebook,
                  "update": "ema", "decay": 0.99, "beta": 0.25, "dead": 0, "lr": 3e-3,
                  "batches": [], "restarts": [], "seeds": [], "kmeans": False,
                  "every": 1})  # fmt: skip
    stats = CodeStats(4)
    stats.counts += torch.tensor([2, 1, 1, 0])
    assert got["counts"] == [2, 1, 1, 0]
    assert got["usage"] == 0.75 == stats.result()["usage"]
    assert got["perplexity"] == pytest.approx(stats.result()["perplexity"], rel=1e-12)
    assert got["perplexity"] == pytest.approx(2**1.5)  # H = 1.5 bits


# -- the widget in Chromium, on lesson 11's page ------------------------------------------------

LESSON = sorted(p.stem for p in (SITE.parent / "lessons").glob("11-*.md"))


def _trained(probe, w, timeout: float = 90000) -> dict:
    """The state once the current training has run all its steps."""
    probe.page.wait_for_function(
        "el => el.dataset.state && JSON.parse(el.dataset.state).done && !el.dataset.busy",
        arg=w.element_handle(),
        timeout=timeout,
    )
    return probe.state(w)


@pytest.mark.skipif(not LESSON, reason="lesson 11 is not written yet")
def test_trainer_mounts_offline_collapses_and_leaves_dead_codes(open_page):
    probe = open_page(f"{LESSON[0]}.html")
    w = probe.page.locator('.widget[data-widget="codebook-trainer"]')
    assert w.count() == 1
    healthy = _trained(probe, w)
    assert healthy["update"] == "ema" and healthy["dead"] > 0  # the default: EMA + restart
    assert healthy["usage"] == 1 and healthy["dead_codes"] == 0 and healthy["perplexity"] > 50
    # the collapse preset: every code starts in the far corner and learns by its gradient
    w.locator('[data-action="failure"]').click()
    collapsed = _trained(probe, w)
    assert (collapsed["init"], collapsed["update"], collapsed["dead"]) == ("far", "loss", 0)
    assert collapsed["used"] <= 2 and collapsed["perplexity"] < 2
    assert "usage 2%" in w.locator(".readout").inner_text()  # what the reader sees: 1 of 64
    # EMA without restart: codes that never win stay where they started, dead
    w.locator('[data-action="dead-codes"]').click()
    ema = _trained(probe, w)
    assert (ema["update"], ema["dead"]) == ("ema", 0)
    assert ema["dead_codes"] >= 10 and ema["restarts"] == 0
    w.locator('[data-action="healthy"]').click()
    assert _trained(probe, w)["dead_codes"] == 0
    # FSQ: a fixed grid, nothing learned, nothing to collapse
    fsq = probe.set_knob(w, "quantizer", "fsq")
    assert fsq["num_codes"] == 64 and fsq["used"] > 10
    assert probe.errors == [], probe.errors
    assert probe.offsite() == [], probe.offsite()
