"""The `generative` command through main(argv): exit codes, clean errors, and whole flows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from generative.cli import main

torch.set_num_threads(1)

TINY = ["--width", "32", "--depth", "1", "--batch-size", "64", "--n-train", "1000"]


def run_ok(capsys, *argv):
    """main(argv) must succeed; returns its stdout."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def run_err(capsys, *argv):
    """main(argv) must refuse with exit 2 and an 'error:' line, no traceback; returns stderr.
    (argparse refuses bad types itself, with SystemExit(2); the config check returns 2.)"""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2, err
    assert "error: " in err
    assert "Traceback" not in err
    return err


argparse_err = run_err


@pytest.fixture(scope="module")
def fm_run(tmp_path_factory):
    """A tiny unconditional FM+MLP run on moons, trained through the CLI (with its quick check)."""
    out = tmp_path_factory.mktemp("cli") / "fm"
    code = main(["train", "--steps", "200", "--seed", "1", "--out", str(out), *TINY])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    """A tiny class-conditional DDPM run on moons (2 classes)."""
    out = tmp_path_factory.mktemp("cli") / "cond"
    code = main(
        [
            "train",
            "--method",
            "ddpm",
            "--cond",
            "--steps",
            "30",
            "--no-eval",
            "--out",
            str(out),
            *TINY,
        ]
    )
    assert code == 0
    return out


# --- argument validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, valid",
    [
        (["train", "--method", "vae"], ["fm", "ddpm"]),
        (["train", "--model", "unet"], ["mlp", "dit"]),
        (["train", "--schedule", "quadratic"], ["linear", "cosine"]),
        (["train", "--target", "score"], ["eps", "x0", "v"]),
        (["sample", "r", "--out", "s.npy", "--variance", "big"], ["beta", "beta_tilde"]),
        (["frobnicate"], ["train", "sample", "evaluate", "demo"]),
    ],
)
def test_unknown_choice_exits_2_listing_valid_choices(capsys, argv, valid):
    """argparse choices: exit 2 and every valid choice named on stderr."""
    err = argparse_err(capsys, *argv)
    for v in valid:
        assert v in err


def test_unknown_data_name_lists_choices_and_creates_nothing(capsys, tmp_path):
    """--data mooons: exit 2, all toy names listed, no run folder left behind."""
    err = run_err(capsys, "train", "--data", "mooons", "--steps", "5", "--out", tmp_path / "r")
    assert "mooons" in err
    for name in ("moons", "8gaussians", "checkerboard", "spirals", "rings"):
        assert name in err
    assert not (tmp_path / "r").exists()


def test_unknown_dit_size_lists_choices(capsys, tmp_path):
    """--dit-size DiT-XXL: exit 2 naming the presets."""
    err = run_err(capsys, "train", "--model", "dit", "--dit-size", "DiT-XXL", "--out", tmp_path)
    for name in ("DiT-T", "DiT-XS", "DiT-S"):
        assert name in err


@pytest.mark.parametrize("value", ["0", "-3", "ten", "2.5"])
def test_train_steps_must_be_a_positive_integer(capsys, value):
    """--steps 0/-3/ten/2.5 is refused by argparse."""
    err = argparse_err(capsys, "train", "--steps", value)
    assert "--steps" in err


@pytest.mark.parametrize("value", ["0", "-3"])
def test_sample_n_must_be_positive(capsys, fm_run, tmp_path, value):
    """sample --n 0 / --n -3 is refused before anything is written."""
    err = argparse_err(capsys, "sample", fm_run, "--n", value, "--out", tmp_path / "s.npy")
    assert "--n" in err and "[1, " in err
    assert not (tmp_path / "s.npy").exists()


def test_sample_steps_must_be_positive(capsys, fm_run, tmp_path):
    """sample --steps 0 is refused."""
    argparse_err(capsys, "sample", fm_run, "--steps", "0", "--out", tmp_path / "s.npy")


def test_resume_without_out_is_refused(capsys):
    """train --resume needs --out."""
    assert "--out" in run_err(capsys, "train", "--resume")


def test_cond_on_unlabelled_user_file_is_refused(capsys, tmp_path):
    """--cond on a user file (no labels) is a clean error."""
    np.savetxt(tmp_path / "p.csv", np.random.default_rng(0).standard_normal((40, 2)), delimiter=",")
    err = run_err(
        capsys, "train", "--data", tmp_path / "p.csv", "--cond", "--steps", "5",
        "--out", tmp_path / "r", "--width", "32", "--depth", "1",
    )  # fmt: skip
    assert "--cond" in err


def test_training_twice_into_same_out_is_refused(capsys, fm_run):
    """A second train into an existing run folder without --resume: exit 2 naming --resume."""
    before = (fm_run / "state.json").read_text()
    err = run_err(capsys, "train", "--steps", "5", "--out", fm_run, *TINY)
    assert "--resume" in err
    assert (fm_run / "state.json").read_text() == before


# --- train -> sample -> evaluate -----------------------------------------------------------


def test_train_prints_summary_and_quick_check(fm_run):
    """The fixture's train wrote a finished 200-step run (quick check ran without error)."""
    state = json.loads((fm_run / "state.json").read_text())
    assert state["step"] == 200
    assert (fm_run / state["checkpoint"]).is_file()


def test_train_output_mentions_steps_quick_check_and_next_command(capsys, tmp_path):
    """stdout reports steps trained, the quick W2 check and how to sample."""
    out = run_ok(capsys, "train", "--steps", "20", "--out", tmp_path / "r", *TINY)
    assert "trained 20 steps" in out
    assert "quick check" in out and "W2" in out and "floor" in out
    assert "generative sample" in out


def test_resume_through_cli_reaches_new_step_count(capsys, tmp_path):
    """train --resume --out R --steps 40 continues a 20-step run to 40."""
    run_ok(capsys, "train", "--steps", "20", "--no-eval", "--out", tmp_path / "r", *TINY)
    out = run_ok(capsys, "train", "--resume", "--steps", "40", "--no-eval", "--out", tmp_path / "r")
    assert "trained 40 steps" in out
    assert json.loads((tmp_path / "r" / "state.json").read_text())["step"] == 40


def test_sample_csv_and_npy_are_in_data_units_and_agree(capsys, fm_run, tmp_path):
    """Samples are decoded to the data's own units (moons: x-mean ~0.5, y-std ~0.5)."""
    out = run_ok(capsys, "sample", fm_run, "--n", "800", "--out", tmp_path / "s.npy")
    assert "800 samples" in out and "NFE" in out
    run_ok(capsys, "sample", fm_run, "--n", "800", "--out", tmp_path / "sub" / "s.csv")
    a = np.load(tmp_path / "s.npy")
    b = np.loadtxt(tmp_path / "sub" / "s.csv", delimiter=",")
    assert a.shape == b.shape == (800, 2)
    np.testing.assert_allclose(a, b, atol=2e-6)  # same seed, csv rounded to 6 decimals
    # raw moons: mean (0.5, 0.25), std (0.87, 0.50); standardized would be (0, 0), (1, 1)
    mean, std = a.mean(axis=0), a.std(axis=0)
    assert abs(mean[0] - 0.5) < 0.15 and abs(mean[1] - 0.25) < 0.15
    assert 0.6 < std[0] < 1.15 and 0.3 < std[1] < 0.75


def test_sample_is_seeded(capsys, fm_run, tmp_path):
    """The same --seed gives the same samples; another seed gives others."""
    for name, seed in (("a", 0), ("b", 0), ("c", 5)):
        run_ok(
            capsys, "sample", fm_run, "--n", "50", "--seed", seed, "--out", tmp_path / f"{name}.npy"
        )
    a, b, c = (np.load(tmp_path / f"{n}.npy") for n in "abc")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_evaluate_json_reports_the_protocol(capsys, fm_run, tmp_path):
    """evaluate --json prints W2, floor, ratio, two mode masses and off-data, all sane."""
    run_ok(capsys, "sample", fm_run, "--n", "2000", "--out", tmp_path / "s.csv")
    rep = json.loads(
        run_ok(capsys, "evaluate", tmp_path / "s.csv", "--data", "moons", "--json", "--seeds", "2")
    )
    assert rep["eval_seeds"] == 2 and rep["n"] == 2000
    assert 0 < rep["floor"] < rep["w2"] < 3
    assert rep["ratio"] == pytest.approx(rep["w2"] / rep["floor"])
    assert len(rep["mode_mass"]) == 2 and sum(rep["mode_mass"]) == pytest.approx(1, abs=0.02)
    assert 0 <= rep["off_data"] <= 1
    line = run_ok(capsys, "evaluate", tmp_path / "s.csv", "--data", "moons", "--seeds", "1")
    assert line.startswith("W2 ") and "floor" in line and "ratio" in line


def test_evaluate_names_the_bad_csv_line(capsys, tmp_path):
    """A sample CSV with a bad cell on line 4: exit 2 naming the file and line 4."""
    (tmp_path / "s.csv").write_text("0.1,0.2\n0.3,0.4\n0.5,0.6\n0.7,x\n0.9,1.0\n")
    err = run_err(capsys, "evaluate", tmp_path / "s.csv", "--data", "moons")
    assert "s.csv" in err and "line 4" in err


def test_evaluate_wrong_number_of_columns_is_refused(capsys, tmp_path):
    """3-column samples against 2-D moons: exit 2 naming both widths."""
    np.save(tmp_path / "s.npy", np.zeros((100, 3)))
    err = run_err(capsys, "evaluate", tmp_path / "s.npy", "--data", "moons")
    assert "3 columns" in err and "2" in err


def test_evaluate_missing_file_and_unknown_data(capsys, tmp_path):
    """A missing samples file, and an unknown --data, are clean errors."""
    assert "no such file" in run_err(capsys, "evaluate", tmp_path / "nope.npy", "--data", "moons")
    np.save(tmp_path / "s.npy", np.zeros((100, 2)))
    assert "valid choices" in run_err(capsys, "evaluate", tmp_path / "s.npy", "--data", "mooons")


# --- sample errors -------------------------------------------------------------------------


def test_sample_on_a_non_run_folder_is_a_clean_error(capsys, tmp_path):
    """sample on an empty folder or a missing path: exit 2, 'error:', no traceback."""
    (tmp_path / "empty").mkdir()
    assert "not a run folder" in run_err(
        capsys, "sample", tmp_path / "empty", "--out", tmp_path / "s.npy"
    )
    run_err(capsys, "sample", tmp_path / "missing", "--out", tmp_path / "s.npy")
    assert not (tmp_path / "s.npy").exists()


def test_sample_on_a_file_instead_of_a_run_folder_is_a_clean_error(capsys, tmp_path):
    """sample samples.npy --out x.npy (a common slip): exit 2 with 'error:'."""
    np.save(tmp_path / "samples.npy", np.zeros((10, 2)))
    run_err(capsys, "sample", tmp_path / "samples.npy", "--out", tmp_path / "x.npy")


@pytest.mark.parametrize("name", ["s.txt", "s.png", "s"])
def test_sample_out_with_bad_suffix_is_refused(capsys, fm_run, tmp_path, name):
    """--out must end in .npy or .csv."""
    err = run_err(capsys, "sample", fm_run, "--out", tmp_path / name)
    assert ".npy" in err and ".csv" in err
    assert not (tmp_path / name).exists()


def test_unknown_sampler_lists_the_methods_samplers(capsys, fm_run, tmp_path):
    """--sampler ancestral on an FM run: exit 2 naming the FM samplers."""
    err = run_err(capsys, "sample", fm_run, "--sampler", "ancestral", "--out", tmp_path / "s.npy")
    for name in ("euler", "midpoint", "heun", "rk4"):
        assert name in err


def test_label_on_unconditional_run_is_refused(capsys, fm_run, tmp_path):
    """--label on a run trained without --cond: exit 2 naming --cond."""
    err = run_err(capsys, "sample", fm_run, "--label", "0", "--out", tmp_path / "s.npy")
    assert "--cond" in err


@pytest.mark.parametrize("label, message", [("2", "0..1"), ("-1", ">= 0"), ("99", "0..1")])
def test_label_out_of_range_is_refused(capsys, cond_run, tmp_path, label, message):
    """--label outside 0..1 on a 2-class conditional run is refused with the valid range."""
    err = run_err(capsys, "sample", cond_run, "--label", label, "--out", tmp_path / "s.npy")
    assert f"--label {label}" in err and message in err


def test_conditional_sampling_with_label_and_guidance_works(capsys, cond_run, tmp_path):
    """--label 1 --guidance 2 with DDIM on a conditional DDPM run writes finite samples."""
    out = run_ok(
        capsys,
        "sample",
        cond_run,
        "--label",
        "1",
        "--guidance",
        "2",
        "--sampler",
        "ddim",
        "--steps",
        "10",
        "--n",
        "100",
        "--out",
        tmp_path / "s.npy",
    )
    assert "100 samples" in out
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (100, 2) and np.isfinite(x).all()


# --- a user's own 3-D file -----------------------------------------------------------------


def test_user_3d_csv_train_sample_evaluate(capsys, tmp_path):
    """A noisy-helix CSV (1500 x 3, with header): train, sample, evaluate -> finite W2 and floor."""
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 4 * math.pi, 1500)
    pts = np.stack([np.cos(t), np.sin(t), t / (2 * math.pi)], axis=1)
    pts += 0.05 * rng.standard_normal(pts.shape)
    data = tmp_path / "helix.csv"
    np.savetxt(data, pts, delimiter=",", fmt="%.5f", header="x,y,z", comments="")

    out = run_ok(
        capsys,
        "train",
        "--data",
        data,
        "--steps",
        "150",
        "--out",
        tmp_path / "run",
        "--width",
        "64",
        "--depth",
        "2",
        "--no-eval",
    )
    assert "trained 150 steps" in out
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["shape"] == [3] and cfg["n_train"] == 1200  # 20% held out

    run_ok(capsys, "sample", tmp_path / "run", "--n", "600", "--out", tmp_path / "s.npy")
    s = np.load(tmp_path / "s.npy")
    assert s.shape == (600, 3) and np.isfinite(s).all()
    np.testing.assert_allclose(s.mean(axis=0), pts.mean(axis=0), atol=0.35)  # data units

    rep = json.loads(
        run_ok(capsys, "evaluate", tmp_path / "s.npy", "--data", data, "--json", "--seeds", "2")
    )
    assert math.isfinite(rep["w2"]) and math.isfinite(rep["floor"])
    assert 0 < rep["floor"] < rep["w2"]
    assert rep["n"] == 300  # the held-out 20%
    assert rep["mode_mass"] == []  # no labels in a user file
    # a 2-D sample file against the 3-D data is refused
    np.save(tmp_path / "flat.npy", s[:, :2])
    assert "2 columns" in run_err(capsys, "evaluate", tmp_path / "flat.npy", "--data", data)
