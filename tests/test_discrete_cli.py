"""`generative train --method maskgit|ar|mdlm|d3pm` and `generative sample` on token runs:
a few steps end to end, the files they write, and clear errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from generative.cli import main

TINY = ["--steps", "3", "--batch-size", "8", "--hidden", "32", "--layers", "1", "--n-train", "1000"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("discrete")
    out = {}
    for method, extra in (("maskgit", ["--cond"]), ("ar", ["--cond"]), ("d3pm", ["--d3pm-T", "5"])):
        out[method] = root / method
        assert main(["train", "--method", method, *extra, *TINY, "--out", str(out[method])]) == 0
    return out


def test_maskgit_sample_writes_grid_tokens_and_trace(runs, tmp_path, capsys):
    png, trace = tmp_path / "s.png", tmp_path / "t.json"
    argv = ["sample", str(runs["maskgit"]), "--n", "6", "--steps", "3", "--out", str(png)]
    assert main([*argv, "--trace", str(trace), "--label", "5"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG" and trace.with_suffix(".rounds.png").exists()
    tokens = np.load(tmp_path / "s.npy")
    assert tokens.shape == (6, 64) and tokens.max() < 61
    t = json.loads(trace.read_text())
    assert len(t["rounds"]) == t["nfe"] <= 3 and -1 not in np.array(t["rounds"][-1])
    assert "valid" in capsys.readouterr().out


def test_ar_and_d3pm_sample(runs, tmp_path):
    assert (
        main(
            [
                "sample",
                str(runs["ar"]),
                "--n",
                "3",
                "--no-kv-cache",
                "--out",
                str(tmp_path / "a.npy"),
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "a.npy").shape == (3, 64)
    assert main(["sample", str(runs["d3pm"]), "--n", "3", "--out", str(tmp_path / "d.npy")]) == 0


BAD = [  # (command line with {maskgit}, {ar}, {d3pm} and {tmp} filled in, expected message)
    ("sample {maskgit} --label 99 --out {tmp}/x.png", "classes 0..15"),
    ("sample {d3pm} --label 1 --out {tmp}/x.png", "--cond"),
    ("sample {maskgit} --out {tmp}/x.txt", "FILE.png"),
    ("sample {ar} --sampler maskgit --out {tmp}/x.npy", "valid choices: ar"),
    ("train --method d3pm --kernel gaussian --out {tmp}/r", "'absorbing', 'uniform'"),
    ("train --method mdlm --data mnist --out {tmp}/r", "glyphs"),
]


@pytest.mark.parametrize("line, message", BAD)
def test_bad_input_gives_a_clear_error(runs, tmp_path, capsys, line, message):
    argv = line.format(tmp=tmp_path, **runs).split()
    if argv[0] == "train":
        argv += TINY
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refuses an unknown choice itself
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_training_reports_held_out_bits_per_token(tmp_path, capsys):
    assert main(["train", "--method", "mdlm", *TINY, "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    bpt = float(out.split("held-out: ")[1].split()[0])
    assert "bound" in out and 0 < bpt < 3 * np.log2(61)  # an untrained net: near log2(61) bits


def test_sample_decoder_flags_reach_the_decoder(runs, tmp_path, capsys):
    """--corrector adds its calls to the printed NFE; --oracle --decoder adaptive decodes the
    exact posterior (a T = 64-like quality bound) and prints the mean calls per sample."""
    base = ["sample", str(runs["maskgit"]), "--n", "20", "--label", "3"]
    assert main([*base, "--steps", "4", "--corrector", "3", "--out", str(tmp_path / "a.npy")]) == 0
    assert "7 NFE" in capsys.readouterr().out
    argv = [*base, "--oracle", "--steps", "64", "--out", str(tmp_path / "b.npy")]
    assert main(argv) == 0
    assert "valid 100.0%" in capsys.readouterr().out  # one token a round: always consistent
    argv = [*base, "--oracle", "--decoder", "adaptive", "--out", str(tmp_path / "c.npy")]
    assert main(argv) == 0
    assert "NFE" in capsys.readouterr().out
    assert main([*base, "--corrector-k", "0", "--out", str(tmp_path / "d.npy")]) == 2
