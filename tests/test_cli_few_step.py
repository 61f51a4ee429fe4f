"""`generative reflow` and `generative distill` end to end on tiny runs: the files they write,
one-step sampling of the result, and clear errors."""

from __future__ import annotations

import numpy as np

from generative.cli import main

TINY = ["--width", "16", "--depth", "1", "--n-train", "500", "--batch-size", "64"]


def test_reflow_then_distill_then_one_step_sampling(tmp_path, capsys):
    base, rf, cd = tmp_path / "base", tmp_path / "rf", tmp_path / "cd"
    assert main(["train", *TINY, "--steps", "30", "--out", str(base), "--no-eval"]) == 0
    argv = ["reflow", str(base), "--out", str(rf), "--n-pairs", "300", "--train-steps", "20"]
    assert main(argv) == 0
    assert "pairs:" in capsys.readouterr().out
    assert (rf / "reflow.json").exists() and (rf / "config.json").exists()
    assert main(["distill", str(rf), "--out", str(cd), "--train-steps", "10", "--N", "4"]) == 0
    out = tmp_path / "s.npy"
    assert main(["sample", str(cd), "--sampler", "euler", "--steps", "1", "--out", str(out)]) == 0
    assert "1 NFE" in capsys.readouterr().out
    x = np.load(out)
    assert x.shape == (2000, 2) and np.isfinite(x).all()


def test_bad_teacher_and_bad_flags_are_refused(tmp_path, capsys):
    assert main(["reflow", str(tmp_path / "none"), "--out", str(tmp_path / "r")]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["distill", str(tmp_path), "--out", str(tmp_path / "d"), "--N", "0"]) == 2
    assert main(["reflow", str(tmp_path), "--out", str(tmp_path / "r"), "--lr", "-1"]) == 2
    assert not (tmp_path / "r").exists() and not (tmp_path / "d").exists()
