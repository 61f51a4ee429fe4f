"""Does it really learn? Short real trainings on two moons scored by the 2D protocol, and the
`generative demo` command end to end."""

from __future__ import annotations

import pytest
import torch

from generative.cli import main
from generative.continuous.metrics import Reference, evaluate
from generative.continuous.sampling import sample
from generative.continuous.train_denoiser import TrainConfig, train

torch.set_num_threads(1)

STEPS = 1000  # a short budget (the default is 3500); default batch 256, width 256, depth 3


@pytest.fixture(scope="module")
def moons_ref():
    return Reference("moons")


def score(run, ref, sampler, steps):
    """The protocol with 2 eval seeds on `sampler` x `steps`; also returns the NFE."""
    nfe = []

    def draw(seed):
        res = sample(run.method, run.net, run.shape, ref.n, sampler, steps, seed=seed)
        nfe.append(res.nfe)
        return res.x.numpy()

    return evaluate(draw, ref, seeds=2), nfe[0]


# Bounds, measured on this machine (torch 2.13 CPU, 1 thread): ratio = W2 / i.i.d. floor with
# 2 eval seeds (floor 0.080). Training seed 0 is what the test uses; seeds 1 and 2 show the
# spread, and the bounds leave room for it rather than for seed 0 alone:
#                         1000 steps (used)          600 steps (too close to 2.0 for FM)
#   FM + MLP,  rk4 x4:    1.27 / 1.58 / 1.46  -> bound 2.0    1.71 / 2.20 / 1.83
#   DDPM + MLP, ddim x50: 2.26 / 2.25 / 2.19  -> bound 3.0    2.64 / 2.77 / 2.93
# An untrained net (pure N(0, I) noise) scores about 8x; each case takes ~17 s on one core.
@pytest.mark.parametrize(
    "method, sampler, k, bound",
    [("fm", "rk4", 4, 2.0), ("ddpm", "ddim", 50, 3.0)],
    ids=["fm-mlp-rk4x4", "ddpm-mlp-ddim50"],
)
def test_short_training_learns_two_moons(tmp_path, moons_ref, method, sampler, k, bound):
    """1000 steps of MLP training land within a few x of the floor, both moons covered."""
    run = train(
        TrainConfig(method=method, model="mlp", steps=STEPS, seed=0), tmp_path, progress=False
    )
    rep, nfe = score(run, moons_ref, sampler, k)
    print(f"{method}+mlp {STEPS} steps, {sampler} x{k} ({nfe} NFE): {rep.line()}")
    assert nfe == (16 if sampler == "rk4" else 50)
    assert rep.ratio < bound
    assert min(rep.mode_mass) > 0.35  # no moon dropped
    assert rep.off_data < 0.3
    losses = [v for _, v in run.state["losses"]]
    assert losses[-1] < 0.8 * losses[0]  # the loss went down


def test_demo_writes_figure_and_four_row_table(tmp_path, capsys):
    """`generative demo --steps 40 --seeds 1` trains the four models and writes its outputs."""
    out = tmp_path / "demo"
    assert main(["demo", "--steps", "40", "--seeds", "1", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert (out / "demo.png").is_file() and (out / "demo.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "results.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0].startswith("| model |")
    body = rows[1:]
    assert [r.split("|")[1].strip() for r in body] == [
        "FM + MLP",
        "DDPM + MLP",
        "FM + DiT",
        "DDPM + DiT",
    ]
    for r in body:
        assert len(r.strip("|").split("|")) == 10
        assert "x |" in r  # the ratio column, e.g. "7.31x"
    assert "over 1 evaluation seeds" in md
    assert "FM + DiT" in stdout and "demo finished" in stdout
    for name in ("fm-mlp", "ddpm-mlp", "fm-dit", "ddpm-dit"):
        assert (out / "runs" / name / "checkpoint-40.safetensors").is_file()
