"""`generative unified train | prompt`: a tiny run trained through the real command line, then
prompted both ways; refusals exit 2 with an error line; resume continues bit for bit."""

from __future__ import annotations

import os
import re
import signal

import numpy as np
import pytest
from PIL import Image

from generative.cli import main

TINY = "--steps 3 --batch-size 8 --hidden 16 --depth 1 --heads 2 --n-train 32".split()
CAPTION = "a red circle in the top left"


def train(run, *extra) -> int:
    return main(["unified", "train", "--out", str(run), *TINY, *extra])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = tmp_path_factory.mktemp("unified") / "run"
    assert train(run) == 0
    return run


def nfe(text: str) -> int:
    return int(re.search(r"(\d+) network calls \(NFE\)", text).group(1))


def test_train_writes_a_run_folder_and_refuses_to_overwrite_it(run, capsys):
    assert (run / "state.json").exists() and list(run.glob("checkpoint-*.safetensors"))
    assert train(run) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err


def test_draw_writes_a_png_and_prints_the_document(run, tmp_path, capsys):
    png = tmp_path / "x.png"
    assert main(["unified", "prompt", str(run), f"draw {CAPTION}", "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert Image.open(png).size == (128, 128)
    # the prompt is the caption without the task word, then BOI; the grammar closes the span
    assert f"document 0: BOS {CAPTION} BOI <image: 64 tokens> EOI" in out
    assert "text the model wrote:" in out
    assert nfe(out) >= 65  # one call per written token: 64 image tokens and EOI at least


def test_describe_reads_a_png_or_a_token_file(run, tmp_path, capsys):
    from generative.discrete.data.patch_tokenizer import PatchTokenizer
    from generative.discrete.data.shapes import make_shapes

    scene = make_shapes(1, seed=3)
    png, npy = tmp_path / "in.png", tmp_path / "in.npy"
    Image.fromarray(scene.images[0]).resize((128, 128), Image.NEAREST).save(png)
    np.save(npy, PatchTokenizer().encode(scene.images)[0].numpy())
    captions = []
    for path in (png, npy):
        assert main(["unified", "prompt", str(run), "describe", "--image", str(path)]) == 0
        out = capsys.readouterr().out
        captions.append(re.search(r"caption: (.*)", out).group(1))
        assert nfe(out) >= 1
    assert captions[0] == captions[1]  # the same codes, greedy: the same caption


def test_refusals_exit_2_with_an_error_line(run, tmp_path, capsys):
    prompt = ["unified", "prompt", str(run)]
    assert main([*prompt, "draw a red blob"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown word 'blob'; the vocabulary is: a in the on")
    assert main([*prompt, "describe"]) == 2
    assert "describe goes with --image" in capsys.readouterr().err
    assert main([*prompt, f"draw {CAPTION}", "--steps", "4"]) == 2  # chameleon: no rounds
    assert "drop --steps" in capsys.readouterr().err
    assert main(["unified", "prompt", str(tmp_path), f"draw {CAPTION}"]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert main(["unified", "train", "--mode", "dalle", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'dalle'" in err and "chameleon" in err and "showo" in err
    assert main(["unified", "train", "--hidden", "18", "--heads", "4", "--dry-run"]) == 2
    assert "must divide by --heads 4" in capsys.readouterr().err


def test_showo_run_decodes_in_the_rounds_asked_for(tmp_path, capsys):
    run, png = tmp_path / "showo", tmp_path / "s.png"
    assert train(run, "--mode", "showo") == 0
    args = ["unified", "prompt", str(run), f"draw {CAPTION}", "--steps", "3", "--n", "2"]
    assert main([*args, "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert nfe(out) == 3 and Image.open(png).size == (256, 128)  # one call a round, 2 images
    assert main(["unified", "prompt", str(run), "a red"]) == 2  # no free continuation
    assert "start the prompt with 'draw'" in capsys.readouterr().err


def test_ctrl_c_then_resume_continues_the_run_bit_for_bit(tmp_path, monkeypatch, capsys):
    from safetensors.torch import load_file

    import generative.loop as loop_mod

    whole, split = tmp_path / "whole", tmp_path / "split"
    assert train(whole, "--steps", "4") == 0
    original = loop_mod._Loop.step

    def step(self, i):  # a Ctrl-C arrives during step 2 of 4
        original(self, i)
        if i == 1:
            os.kill(os.getpid(), signal.SIGINT)

    with monkeypatch.context() as m:
        m.setattr(loop_mod._Loop, "step", step)
        assert train(split, "--steps", "4") == 130
    assert "stopped at step 2/4" in capsys.readouterr().err
    assert train(split, "--hidden", "32", "--resume") == 2
    assert "cannot change on resume: --hidden 32" in capsys.readouterr().err
    assert main(["unified", "train", "--out", str(split), "--resume"]) == 0
    a, b = (load_file(r / "checkpoint-4.safetensors") for r in (whole, split))
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    # a typed budget counts even when it equals the default (1500): the run would extend
    resume = ["unified", "train", "--out", str(split), "--resume", "--dry-run"]
    assert main([*resume, "--steps", "1500"]) == 0
    assert '"steps": 1500' in capsys.readouterr().out


def test_help_lists_the_flags(capsys):
    assert main(["unified", "train", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--mode {chameleon,showo}", "--data {shapes,shapes-two}", "--hidden", "--p-t2i",
                 "--resume", "--out"):  # fmt: skip
        assert flag in out
    assert main(["unified", "prompt", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(f in out for f in ("--image", "--guidance", "--temperature", "--steps", "--n"))
