"""Every bad input of issue 18, through the real command line: exit 2, one 'error:' message that
names the problem, no traceback, no file lost or overwritten. Then a fuzz pass over every flag."""

from __future__ import annotations

import hashlib
import json
import os
import random

import numpy as np
import pytest
import torch

from generative.cli import build_parser, main

torch.set_num_threads(1)

TINY = ["--width", "16", "--depth", "1", "--batch-size", "32", "--no-eval"]
TOKENS = ["--steps", "3", "--batch-size", "8", "--hidden", "32", "--layers", "1", "--no-eval"]
TOKENS += ["--n-train", "1000"]


def call(capsys, argv):
    """(exit code, stdout, stderr) of main(argv); any exception but SystemExit fails the test."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # only argparse may exit; main returns its code otherwise
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, argv, *names):
    """argv must fail with exit 2, an 'error:' line naming each of `names`, and no traceback."""
    code, _, err = call(capsys, argv)
    assert code == 2, err
    assert "error:" in err and "Traceback" not in err, err
    for name in names:
        assert name in err, (name, err)
    return err.strip().splitlines()[-1]


def digest(folder):
    """Every file in a folder and its hash: 'nothing lost or overwritten' compares two of these."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 2-D FM run, a 1-D FM run, a conditional DDPM run and a MaskGIT run, a few steps each."""
    root = tmp_path_factory.mktemp("errs")
    line = np.random.default_rng(0).standard_normal((200, 1))
    np.savetxt(root / "line.csv", line, delimiter=",")
    made = {
        "fm": ["--steps", "20", *TINY],
        "oned": ["--steps", "10", "--data", root / "line.csv", *TINY],
        "cond": ["--method", "ddpm", "--cond", "--steps", "10", "--T", "50", *TINY],
        "mg": ["--method", "maskgit", "--cond", *TOKENS],
    }
    for name, argv in made.items():
        assert main(["train", *map(str, argv), "--out", str(root / name)]) == 0
    return {name: root / name for name in made} | {"root": root}


# (command line with {fm} {oned} {cond} {mg} {tmp} filled in, words the message must hold)
TRAIN = [
    ("train --lr 0", ["--lr 0", "> 0"]),
    ("train --lr -1", ["--lr -1", "> 0"]),
    ("train --lr nan", ["--lr nan", "> 0"]),
    ("train --lr inf", ["--lr inf"]),
    ("train --ema-decay 2", ["--ema-decay 2", "[0, 1)"]),
    ("train --ema-decay -0.5", ["--ema-decay -0.5", "[0, 1)"]),
    ("train --cond --p-uncond 2", ["--p-uncond 2", "[0, 1]"]),
    ("train --p-uncond 0.5", ["--p-uncond 0.5", "only with --cond"]),
    ("train --seed -1", ["--seed -1", ">= 0"]),
    ("train --noise -1", ["--noise -1", ">= 0"]),
    ("train --snapshot-every -1", ["--snapshot-every -1", ">= 0"]),
    ("train --steps 0", ["--steps 0", ">= 1"]),
    ("train --steps ten", ["--steps", "'ten' is not an integer"]),
    ("train --batch-size 0", ["--batch-size 0"]),
    ("train --n-train 3", ["--n-train 3", ">= 10"]),
    ("train --t-scale 0", ["--t-scale 0", "> 0"]),
    ("train --method vae", ["--method", "fm", "maskgit"]),
    ("train --schedule cosine", ["--schedule cosine", "only with --method ddpm"]),
    ("train --method ddpm --path vp", ["--path vp", "only with --method fm"]),
    ("train --patch 2", ["--patch 2", "only with --model dit"]),
    ("train --model dit --width 64", ["--width 64", "only with --model mlp"]),
    ("train --model dit --patch 3 --data digits --steps 1 --out {tmp}/r", ["--patch 3", "8x8"]),
    ("train --model dit --patch 3 --steps 1 --out {tmp}/r", ["--patch 3", "2 dimensions"]),
    ("train --data digits --no-standardize", ["--no-standardize", "point data"]),
    ("train --data {tmp}/two.csv --out {tmp}/r --steps 1", ["two.csv", "2 points", "at least 10"]),
    ("train --data {tmp}/same.csv --out {tmp}/r --steps 1", ["same.csv", "same point"]),
    ("train --data {tmp}/pngs --out {tmp}/r --steps 1", ["empty class folder"]),
    ("train --data {tmp}/two.csv --noise 0.1", ["--noise 0.1", "toy set"]),
    ("train --method maskgit --width 64", ["--width", "does not apply", "--hidden"]),
    ("train --method maskgit --depth 2", ["--depth", "use --layers"]),
    ("train --layers 2", ["--layers", "does not apply", "use --depth"]),
    ("train --method d3pm --T 5", ["--T", "use --d3pm-T"]),
    ("train --method maskgit --data moons", ["'moons'", "shapes", "glyphs"]),
    ("train --method maskgit --n-train 500", ["--n-train 500", ">= 1000"]),
    ("train --method maskgit --heads 0", ["--heads 0", ">= 1"]),
    ("train --method maskgit --hidden 32 --heads 3", ["--hidden 32", "--heads 3"]),
    ("train --method maskgit --cond --caption", ["--cond", "--caption", "choose one"]),
    ("train --caption", ["--caption", "does not apply", "Part A"]),
    ("train --method mdlm --mask-schedule linear", ["--mask-schedule linear", "maskgit"]),
    ("train --method maskgit --kernel uniform", ["--kernel uniform", "--method d3pm"]),
    ("train --method maskgit --warmup 0", ["--warmup 0", ">= 1"]),
    ("train --out {tmp}/file.txt", ["--out", "is a file"]),
    ("train --out {tmp}/file.txt/run", ["--out", "is a file"]),
    ("train --resume", ["--resume needs --out"]),
    ("train --resume --out {tmp}", ["not a run folder"]),
]
RESUME = [
    ("train --resume --out {fm} --method ddpm", ["cannot change on resume", "--method"]),
    ("train --resume --out {fm} --width 64", ["cannot change on resume", "--width"]),
    ("train --resume --out {fm} --method maskgit", ["--method 'maskgit'", "fm, ddpm"]),
    ("train --resume --out {mg} --method ar", ["cannot change on resume", "--method"]),
    ("train --resume --out {mg} --caption", ["condition 'class'"]),
    ("train --out {fm} --steps 5", ["already holds a run", "--resume"]),
    ("train --resume --out {bad}", ["config.json", "--lr 'fast'", "float"]),
    ("train --resume --out {vae}", ["config.json", "--method 'vae'", "fm, ddpm"]),
]
SAMPLE = [
    ("sample {fm} --out {tmp}/s.npy --guidance 2", ["--guidance 2", "unconditional"]),
    ("sample {fm} --out {tmp}/s.npy --guidance -1", ["--guidance -1", ">= 0"]),
    ("sample {cond} --out {tmp}/s.npy --guidance 2", ["--guidance 2", "--label"]),
    ("sample {cond} --out {tmp}/s.npy --label 0 --each-class", ["--each-class", "choose one"]),
    ("sample {oned} --out {tmp}/s.npy --plot {tmp}/p.png", ["--plot", "1 dimensions"]),
    ("sample {fm} --out {tmp}/s.npy --plot {tmp}/p.jpg", ["--plot", ".png"]),
    ("sample {fm} --out {tmp}/s.npy --plot {tmp}/s.npy", ["--plot", "--out", "both write"]),
    ("sample {fm} --out {tmp}/s.npy --n 0", ["--n 0", "in [1, 10000000]"]),
    ("sample {fm} --out {tmp}/s.npy --steps -2", ["--steps -2", ">= 1"]),
    ("sample {fm} --out {tmp}/s.npy --eta -1", ["--eta -1", ">= 0"]),
    ("sample {fm} --out {tmp}/s.npy --temperature 0.5", ["--temperature", "does not apply"]),
    ("sample {fm} --out {tmp}/file.txt/s.npy", ["--out", "is a file"]),
    ("sample {fm} --out {tmp}", ["--out", "is a folder"]),
    ("sample {mg} --out {tmp}/m.png --eta 0.5", ["--eta", "does not apply", "token"]),
    ("sample {mg} --out {tmp}/m.png --temperature 0", ["--temperature 0", "> 0"]),
    ("sample {mg} --out {tmp}/m.png --trace {tmp}/m.npy", ["--trace", "both write"]),
    ("sample {mg} --out {tmp}/m.png --plot {tmp}/g.png", ["--plot", "already writes"]),
    ("sample {mg} --out {tmp}/m.png --trace {tmp}/t.txt", ["--trace", ".json"]),
    ("sample {mg} --out {tmp}/m.png --sampler mdlm --trace {tmp}/t.json", ["--trace", "MaskGIT"]),
    ("sample {bad} --out {tmp}/s.npy", ["config.json", "--lr 'fast'"]),
    ("sample {vae} --out {tmp}/s.npy", ["config.json", "'vae'"]),
    ("sample {extra} --out {tmp}/s.npy", ["config.json", "unknown setting", "colour"]),
    ("sample {tmp} --out {tmp}/s.npy", ["not a run folder"]),
]
EVALUATE = [
    ("evaluate {tmp}/ten.npy --data moons", ["10 samples", "2000", "--n 2000"]),
    ("evaluate {tmp}/ten.npy --data {tmp}/same.csv", ["same point"]),
    ("evaluate {tmp}/ten.npy --data {tmp}/two.csv", ["at least 10"]),
    ("evaluate {tmp}/ten.npy", ["needs --data"]),
    ("evaluate {tmp}/ten.npy --data moons --seeds 0", ["--seeds 0", ">= 1"]),
    ("evaluate {tmp}/ten.npy --data {tmp}/line.csv --noise 0.1", ["--noise 0.1", "toy set"]),
    ("evaluate {tmp}/ten.npy --data moons --label 1", ["--label", "image"]),
    ("evaluate {tmp}/ten.npy --data moons --judge-dir x", ["--judge-dir", "image data"]),
]
OTHER = [
    ("tokenize --levels 8,1", ["--levels 8,1", "at least 2"]),
    ("tokenize --levels 8,x", ["--levels", "integers like 8,6,5"]),
    ("tokenize --K 64", ["--K 64", "only with --quantizer vq or ema"]),
    ("tokenize --quantizer ema --decay 1", ["--decay 1", "[0, 1)"]),
    ("tokenize --grid 5", ["--grid", "4", "8"]),
    ("tokenize --data mnist", ["--data", "glyphs"]),
    ("tokenize --lr -1", ["--lr -1", "> 0"]),
    ("tokenize --out {tmp}/file.txt", ["--out", "is a file"]),
    ("info {tmp}", ["not a run folder"]),
    ("demo --seeds 0", ["--seeds 0", ">= 1"]),
    ("demo --out {tmp}/file.txt", ["--out", "is a file"]),
]
CASES = TRAIN + RESUME + SAMPLE + EVALUATE + OTHER


@pytest.fixture(scope="module")
def bad_runs(runs):
    """Copies of the FM run whose config.json is wrong: a string lr, method 'vae', an extra key."""
    import shutil

    made = {}
    for name, change in (
        ("bad", {"lr": "fast"}),
        ("vae", {"method": "vae"}),
        ("extra", {"colour": 1}),
    ):
        made[name] = runs["root"] / name
        shutil.copytree(runs["fm"], made[name])
        path = made[name] / "config.json"
        meta = json.loads(path.read_text())
        meta["train"].update(change)
        path.write_text(json.dumps(meta))
    return made


@pytest.fixture
def scene(tmp_path):
    """The files the cases point at: a 2-row and a constant CSV, 10 samples, an empty class."""
    np.savetxt(tmp_path / "two.csv", [[0.0, 1.0], [1.0, 0.0]], delimiter=",")
    np.savetxt(tmp_path / "same.csv", np.ones((50, 2)), delimiter=",")
    np.savetxt(tmp_path / "line.csv", np.arange(50.0)[:, None], delimiter=",")
    np.save(tmp_path / "ten.npy", np.zeros((10, 2)))
    (tmp_path / "file.txt").write_text("keep me")
    from PIL import Image

    (tmp_path / "pngs" / "a").mkdir(parents=True)
    (tmp_path / "pngs" / "b").mkdir()
    for i in range(3):
        Image.fromarray(np.full((4, 4), 40 * i, np.uint8)).save(
            tmp_path / "pngs" / "a" / f"{i}.png"
        )
    return tmp_path


@pytest.mark.parametrize("line, words", CASES, ids=[c[0][:60] for c in CASES])
def test_bad_input_is_refused_cleanly(capsys, monkeypatch, runs, bad_runs, scene, line, words):
    monkeypatch.chdir(scene)  # a case that wrongly passed would write its runs/ here
    names = {k: str(v) for k, v in {**runs, **bad_runs}.items()}
    argv = line.format(tmp=scene, **names).split()
    if argv[0] in ("train", "tokenize") and "--steps 1" not in line:
        argv.append("--dry-run")  # checks every flag and stops before any training
    before = {k: digest(v) for k, v in runs.items() if k != "root"}
    files = digest(scene)
    refused(capsys, argv, *(w.format(tmp=scene, **names) for w in words))
    assert {k: digest(v) for k, v in runs.items() if k != "root"} == before  # runs untouched
    after = digest(scene)
    assert {k: v for k, v in after.items() if k in files} == files  # no input file changed
    assert not (scene / "r").exists() or not (scene / "r" / "state.json").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out_is_refused(capsys, tmp_path):
    (tmp_path / "ro").mkdir(mode=0o500)
    refused(capsys, ["train", "--out", tmp_path / "ro" / "r", "--steps", "1"], "not writable")


# --- what used to go wrong now works ---------------------------------------------------------


def test_readme_trace_command_keeps_the_grid(capsys, runs, tmp_path):
    """sample --out mg.png --trace mg.json: grid, tokens, trace and its figure, four files."""
    code, out, err = call(
        capsys, ["sample", runs["mg"], "--n", "6", "--steps", "3", "--out", tmp_path / "mg.png",
                 "--trace", tmp_path / "mg.json"],
    )  # fmt: skip
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["mg.json", "mg.npy", "mg.png", "mg.rounds.png"]
    assert (tmp_path / "mg.png").read_bytes() != (tmp_path / "mg.rounds.png").read_bytes()


def test_plot_into_a_missing_folder_is_created(capsys, runs, tmp_path):
    plot = tmp_path / "new" / "deeper" / "p.png"
    code, _, err = call(
        capsys, ["sample", runs["fm"], "--n", "50", "--out", tmp_path / "s.npy", "--plot", plot]
    )
    assert code == 0, err
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_resume_of_a_token_run_keeps_its_budget(capsys, runs, tmp_path):
    """--resume without --steps continues to the saved budget (3), not the default 10,000."""
    import shutil

    run = tmp_path / "mg"
    shutil.copytree(runs["mg"], run)
    code, out, err = call(capsys, ["train", "--resume", "--out", run, "--no-eval"])
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 3
    assert json.loads((run / "state.json").read_text())["step"] == 3


def test_guided_nfe_counts_both_passes(capsys, runs, tmp_path):
    argv = ["sample", runs["cond"], "--n", "20", "--label", "1", "--guidance", "3"]
    argv += ["--sampler", "ddim", "--steps", "5", "--out", tmp_path / "s.npy"]
    code, out, err = call(capsys, argv)
    assert code == 0, err
    assert "10 NFE (5 x 2: guidance" in out


def test_version_and_info(capsys, runs):
    from generative import __version__

    code, out, _ = call(capsys, ["--version"])
    assert code == 0 and __version__ in out
    code, out, err = call(capsys, ["info", runs["cond"], "--json"])
    assert code == 0, err
    info = json.loads(out)
    assert info["method"] == "ddpm" and info["data"] == "moons" and info["classes"] == 2
    assert info["steps_done"] == info["steps_total"] == 10 and info["last_loss"] > 0
    code, out, _ = call(capsys, ["info", runs["mg"]])
    assert code == 0 and "maskgit" in out and "steps_done" in out


def test_help_gives_every_flag_a_sentence_and_a_default(capsys):
    """Every flag of every command: a help sentence, a default (none on the --no- half)."""
    for cmd in ("train", "sample", "evaluate", "tokenize", "demo"):
        code, out, _ = call(capsys, [cmd, "--help"])
        assert code == 0
        assert "default: True" not in out and "default: False" not in out
        _, table = _flag_table(cmd)
        for flag in table.values():
            for action in _actions(cmd):
                if action.dest == flag.dest:
                    assert action.help and "(default: " in action.help, flag.name
    code, out, _ = call(capsys, ["train", "--help"])
    assert "Part A: continuous" in out and "Part B: token generators" in out


# --- fuzz: random values from each field's type and range -------------------------------------


def _subparser(cmd):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices[cmd]


def _flag_table(cmd):
    p = _subparser(cmd)
    return p, p.get_default("flags")


def _actions(cmd):
    return _subparser(cmd)._actions


def _value(flag, rng: random.Random):
    """A value for a flag: in range, at and past its bounds, or garbage."""
    meta = next(iter(flag.fields.values())).metadata
    if flag.kind is bool:
        return None
    ge, gt, lt, le = meta["range"]
    lo = ge if ge is not None else gt if gt is not None else -5
    hi = lt if lt is not None else le if le is not None else lo + 50
    garbage = ["", "x", "nan", "inf", "-inf", "1e999", "-1", "0", "1.5", "3,4", "ÿ", "--"]
    if meta["choices"]:
        pool = [str(c) for c in meta["choices"]] + ["bogus", ""]
    elif flag.kind is int:
        pool = [str(v) for v in (lo - 1, lo, lo + 1, hi, hi + 1, 10**12, -(10**12))]
    elif flag.kind is float:
        pool = [str(v) for v in (lo, hi, (lo + hi) / 2, lo - 0.5, hi + 0.5, 1e300, -1e-300)]
    elif flag.kind is tuple:
        pool = ["8,6,5", "2", "1,1", "9999,9999", "x,y", ","]
    else:
        pool = ["moons", "digits", "shapes", "/no/such/file.csv", "runs/x"]
    return rng.choice(pool + garbage)


def test_fuzz_flags_never_traceback(capsys, runs, tmp_path):
    """200 random command lines (dry runs: nothing trains or samples) exit 0 or 2, never raise."""
    rng = random.Random(0)
    np.save(tmp_path / "s.npy", np.zeros((2000, 2)))
    methods = ["fm", "ddpm", "maskgit", "ar", "mdlm", "d3pm"]
    heads = {
        "train": lambda: ["train", "--dry-run", "--out", tmp_path / "r"]
        + rng.choice([[], ["--method", rng.choice(methods)]]),
        "sample": lambda: ["sample", runs[rng.choice(["fm", "cond", "mg", "oned"])], "--dry-run",
                           "--out", tmp_path / rng.choice(["s.npy", "s.png", "s.csv"])],
        "evaluate": lambda: ["evaluate", tmp_path / "s.npy", "--dry-run"],
        "tokenize": lambda: ["tokenize", "--dry-run", "--out", tmp_path / "t"],
    }  # fmt: skip
    tables = {cmd: _flag_table(cmd)[1] for cmd in heads}
    codes = []
    for i in range(200):
        cmd = list(heads)[i % len(heads)]
        argv = heads[cmd]()
        for flag in rng.sample(list(tables[cmd].values()), rng.randint(1, 4)):
            value = _value(flag, rng)
            if value is None:
                argv.append(rng.choice([flag.name, "--no-" + flag.name[2:]]))
            else:
                argv.append(f"{flag.name}={value}")
        code, _, err = call(capsys, argv)
        assert code in (0, 2), (argv, err)
        assert "Traceback" not in err, (argv, err)
        codes.append(code)
    assert 0 in codes and 2 in codes  # the fuzz reaches both valid and refused command lines
    assert not (tmp_path / "r").exists() and not (tmp_path / "t").exists()  # dry runs


def test_readme_train_commands_pass_the_flag_checks(capsys, monkeypatch, tmp_path):
    """Every `generative train` / `tokenize` line of the README parses and validates (dry run)."""
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    monkeypatch.chdir(tmp_path)
    checked = 0
    for line in readme.splitlines():
        if not line.startswith(("generative train", "generative tokenize")):
            continue
        argv = line.split("#")[0].split()[1:]
        if "--resume" in argv or any(a.startswith("my_") for a in argv):
            continue  # needs a run or the user's own file
        code, _, err = call(capsys, [*argv, "--dry-run"])
        assert code == 0, (line, err)
        checked += 1
    assert checked >= 6


def test_ctrl_c_before_any_checkpoint_says_so(capsys, monkeypatch, tmp_path):
    """Ctrl-C with nothing saved yet: exit 130 and no claim that a checkpoint is kept."""
    from generative.cli import quick_check

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(quick_check, "train_points", interrupted)
    code, _, err = call(capsys, ["train", "--steps", "5", "--out", tmp_path / "r"])
    assert code == 130 and "no checkpoint had been written" in err and "Traceback" not in err


def test_tokenize_resumes_with_a_new_budget_and_refuses_a_new_codebook(tmp_path, capsys):
    out = tmp_path / "tok"
    base = ["tokenize", "--n-train", "300", "--batch-size", "16", "--out", str(out)]
    assert main([*base, "--steps", "4"]) == 0
    assert main(["tokenize", "--resume", "--out", str(out), "--steps", "6"]) == 0
    assert json.loads((out / "state.json").read_text())["step"] == 6
    capsys.readouterr()
    assert main(["tokenize", "--resume", "--out", str(out), "--levels", "4,4"]) == 2
    assert "cannot change on resume" in capsys.readouterr().err
    assert main([*base, "--steps", "4"]) == 2  # no --resume: the run is not overwritten
    assert json.loads((out / "state.json").read_text())["step"] == 6
