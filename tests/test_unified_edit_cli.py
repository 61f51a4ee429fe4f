"""`generative unified edit`: a tiny Show-o run on two-object scenes, trained through the real
command line, edits an image by token surgery (the other half stays identical, pixel for pixel,
however badly the run draws) or by regeneration; refusals exit 2 with an error line."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from generative.cli import main
from generative.discrete.data import shapes as S

TINY = "--batch-size 16 --hidden 32 --depth 1 --heads 2 --n-train 256 --lr 5e-3 --warmup 10"


def train(run, *extra) -> int:
    return main(["unified", "train", "--out", str(run), *TINY.split(), *extra])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """150 steps: enough to describe any scene with a two-object caption (not the right one)."""
    run = tmp_path_factory.mktemp("edit") / "showo"
    assert train(run, "--mode", "showo", "--data", "shapes-two", "--steps", "150") == 0
    return run


def scene(path, side=128, seed=7):
    image = S.make_shapes(1, seed=seed, two_objects=True).images[0]
    Image.fromarray(image).resize((side, side), Image.NEAREST).save(path)
    return np.asarray(Image.open(path).convert("RGB"))


def edit(run, image, instruction, out, *extra) -> int:
    return main(["unified", "edit", str(run), "--image", str(image), instruction,
                 "--out", str(out), *extra])  # fmt: skip


def captions(text: str) -> tuple[str, str]:
    said = re.search(r"described caption: (.*)", text).group(1)
    return said, re.search(r"edited caption: +(.*?)(?: \(unchanged.*)?$", text, re.M).group(1)


@pytest.mark.parametrize(("instruction", "side", "word"), [
    ("make the left object blue", 0, "blue"), ("right square", 1, "square")])  # fmt: skip
def test_surgery_keeps_the_other_half_pixel_identical(run, tmp_path, capsys, instruction, side,
                                                      word):  # fmt: skip
    for size in (16, 128):
        src, out = tmp_path / f"in{size}.png", tmp_path / f"out{size}.png"
        before = scene(src, size)
        assert edit(run, src, instruction, out, "--steps", "4", "--n", "3") == 0
        text = capsys.readouterr().out
        after = np.asarray(Image.open(out).convert("RGB"))
        assert after.shape == (size, 3 * size, 3)  # three edits side by side, each input-sized
        keep = slice(size // 2, size) if side == 0 else slice(0, size // 2)
        for i in range(3):
            assert (after[:, i * size : (i + 1) * size][:, keep] == before[:, keep]).all()
        assert text.count("pixel-identical to the input: yes") == 3
        said, edited = captions(text)
        words = said.replace(",", " ,").split()
        kind = S.COLOURS if word in S.COLOURS else S.SHAPES
        at = [i for i, w in enumerate(words) if w in kind][side]  # that object's word, only
        assert edited == " ".join([*words[:at], word, *words[at + 1 :]]).replace(" ,", ",")
        assert "4 for the surgery of 3 image(s)" in text  # one network call a round
        assert (np.asarray(Image.open(src).convert("RGB")) == before).all()  # input untouched
        assert Image.open(tmp_path / f"out{size}-compare.png").size[1] == size


def test_regenerate_writes_the_whole_image_at_the_input_size(run, tmp_path, capsys):
    src, out = tmp_path / "in.png", tmp_path / "out.png"
    scene(src)
    assert edit(run, src, "turn the right one into a cross", out, "--regenerate",
                "--steps", "3") == 0  # fmt: skip
    text = capsys.readouterr().out
    assert Image.open(out).size == (128, 128)
    assert "3 for the regeneration of 1 image(s)" in text and "checker reads" in text
    assert re.search(r"unedited left half pixel-identical to the input: (yes|no)", text)
    # a .npy of the 64 codes is read as the same image: the same description
    from generative.discrete.data.patch_tokenizer import PatchTokenizer

    npy = tmp_path / "in.npy"
    np.save(
        npy, PatchTokenizer().encode(S.make_shapes(1, seed=7, two_objects=True).images)[0].numpy()
    )
    assert edit(run, npy, "right cross", tmp_path / "npy.png", "--regenerate") == 0
    assert captions(capsys.readouterr().out)[0] == captions(text)[0]
    assert Image.open(tmp_path / "npy.png").size == (128, 128)


def test_bad_instructions_exit_2_and_say_the_grammar(run, tmp_path, capsys):
    src, out = tmp_path / "in.png", tmp_path / "out.png"
    scene(src)
    assert edit(run, src, "make the left object purple", out) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown word 'purple'") and "red green blue yellow" in err
    assert "square circle triangle cross" in err and "left right" in err
    assert edit(run, src, "make it blue", out) == 2
    err = capsys.readouterr().err
    assert "needs exactly one side (left or right)" in err and "make the left object blue" in err
    assert edit(run, src, "left right red", out) == 2
    assert "needs exactly one side" in capsys.readouterr().err
    assert edit(run, src, "the left object", out) == 2
    assert "needs exactly one colour or shape" in capsys.readouterr().err
    assert edit(run, src, "left red", src) == 2  # the input is never overwritten
    assert "would overwrite --image" in capsys.readouterr().err
    assert not out.exists()


def test_images_of_the_wrong_size_or_colours_are_refused(run, tmp_path, capsys):
    wrong, out = tmp_path / "wrong.png", tmp_path / "out.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(wrong)
    assert edit(run, wrong, "left red", out) == 2
    assert "20x20 pixels; expected a square 16x16 scene" in capsys.readouterr().err
    grey = np.zeros((16, 16, 3), np.uint8)
    grey[3, 3] = 128
    Image.fromarray(grey).save(wrong)
    assert edit(run, wrong, "left red", out) == 2
    err = capsys.readouterr().err
    assert "neither black nor a palette colour" in err and "red, green, blue or yellow" in err
    assert not out.exists()


def test_a_chameleon_run_regenerates_but_refuses_surgery(tmp_path, capsys):
    src, out, cham = tmp_path / "in.png", tmp_path / "out.png", tmp_path / "cham"
    scene(src)
    assert train(cham, "--data", "shapes-two", "--steps", "150") == 0
    assert edit(cham, src, "left red", out) == 2
    err = capsys.readouterr().err
    assert "token surgery needs a showo run" in err and "--regenerate" in err
    assert edit(cham, src, "left red", out, "--regenerate", "--steps", "4") == 2
    assert "drop --steps" in capsys.readouterr().err
    assert not out.exists()
    assert edit(cham, src, "left red", out, "--regenerate") == 0
    text = capsys.readouterr().out
    assert "for the regeneration of 1 image(s), chameleon mode" in text
    assert Image.open(out).size == (128, 128)


def test_runs_that_cannot_edit_are_refused(tmp_path, capsys):
    src, out = tmp_path / "in.png", tmp_path / "out.png"
    scene(src)
    one, raw = tmp_path / "one", tmp_path / "raw"
    assert train(one, "--mode", "showo", "--steps", "3") == 0
    assert edit(one, src, "left red", out) == 2
    assert "train a run with --data shapes-two" in capsys.readouterr().err
    # three steps: the run describes the scene with words that are no two-object caption
    assert train(raw, "--mode", "showo", "--data", "shapes-two", "--steps", "3") == 0
    capsys.readouterr()
    assert edit(raw, src, "left red", out) == 2
    captured = capsys.readouterr()
    assert "described caption:" in captured.out and "not a two-object caption" in captured.err
    assert not out.exists()


def test_help_shows_the_grammar(capsys):
    assert main(["unified", "edit", "--help"]) == 0
    out = capsys.readouterr().out
    assert "SIDE: left | right" in out and "make the left object blue" in out
    assert all(f in out for f in ("--image", "--regenerate", "--steps", "--guidance", "--n"))
    assert main(["unified", "--help"]) == 0
    assert "edit" in capsys.readouterr().out


def test_instructions_parse_with_punctuation_and_case():
    from generative.unified.surgery import parse_instruction

    assert parse_instruction("Make the LEFT object blue.") == (0, "blue")
    assert parse_instruction("turn the right one into a cross!") == (1, "cross")
    assert parse_instruction("right, square") == (1, "square")
