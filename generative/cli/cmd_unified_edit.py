"""`generative unified edit RUN --image in.png "make the left object blue" --out out.png`

Editing as token surgery on a two-object scene (lesson 13): the model describes the image (image
-> text, greedy, as `prompt describe` does), the instruction changes one object's word in that
caption, then only that object's half of the image tokens is re-masked and re-written by masked
parallel decoding under the edited caption (a Show-o run). The other half's tokens are handed to
the decoder and never touched, so its pixels stay identical to the input by construction.
--regenerate instead writes the whole image from the edited caption (the baseline; any run).
The exact checker reads the result: is it a clean scene, and does it show the edited caption?

"""

from __future__ import annotations

import argparse
from pathlib import Path

from generative.cli.cmd_unified import IMAGE_LEN, PromptArgs, read_image
from generative.cli.flags import add_flags, build, given
from generative.cli.paths import writable_file
from generative.errors import UserError
from generative.unified.surgery import GRAMMAR, edit_caption, parse_instruction
from generative.unified.vocab import Vocab


def add(verbs):
    e = verbs.add_parser(
        "edit",
        help="edit one object of a two-object image (token surgery, or --regenerate)",
        description=__doc__ + GRAMMAR,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("run", help="a run folder of `unified train --data shapes-two` "
                   "(--mode showo for surgery)")  # fmt: skip
    e.add_argument("instruction", help="e.g. 'make the left object blue' (grammar above)")
    e.add_argument("--image", required=True, help="the two-object scene: a PNG (16x16, or a "
                   "multiple as `unified prompt` writes) or a .npy of 64 patch codes")  # fmt: skip
    e.add_argument("--out", help="PNG to write, the input's size (default edited.png); the "
                   "input beside the edit goes to OUT-compare.png")  # fmt: skip
    e.add_argument("--regenerate", action="store_true",
                   help="write the whole image from the edited caption (the baseline)")  # fmt: skip
    e.add_argument("--n", type=int, help="edits to write, side by side (default 1)")
    flags, _ = add_flags(e, [PromptArgs], lambda owners: "decoding")
    e.set_defaults(func=cmd_edit, flags=flags)


def cmd_edit(a):
    import time

    args = build(PromptArgs, given(a, a.flags), a.flags, "unified edit")
    if a.n is not None and a.n < 1:
        raise UserError(f"--n must be at least 1, got {a.n}")
    half, word = parse_instruction(a.instruction)  # bad words are refused before any work
    v = Vocab()
    codes = read_image(a.image, v)
    out = writable_file(a.out or "edited.png", "--out")
    compare = out.with_name(f"{out.stem}-compare.png")
    if Path(a.image).resolve() in (out.resolve(), compare.resolve()):
        raise UserError(f"--out {out} would overwrite --image {a.image}; give another --out")
    model, cfg = _load(a)
    t0 = time.perf_counter()
    caption, nfe_read = _describe(model, v, codes, cfg.mode)
    edited = v.decode_text(edit_caption(v, v.encode_text(caption), half, word))
    same = " (unchanged: the caption already says so)" if edited == caption else ""
    print(f"edited caption:    {edited}{same}")
    images, nfe = _edit(model, v, cfg.mode, args, a, codes, edited, half)
    before = _pixels(a.image, codes)
    after = _report(images, before, edited, half)
    _save(before, after, out, compare)
    how = "regeneration" if a.regenerate else "surgery"
    print(f"network calls (NFE): {nfe_read} to describe + {nfe} for the {how} of {len(images)} "
          f"image(s), {cfg.mode} mode ({time.perf_counter() - t0:.1f}s)")  # fmt: skip


def _load(a):
    """The model, refused unless it can do the edit asked for (before any decoding)."""
    from generative.unified.train import load_unified

    model, cfg = load_unified(a.run)
    if cfg.data != "shapes-two":
        raise UserError(
            f"{a.run} was trained on --data {cfg.data} (one object); editing changes one object "
            "of a two-object scene: train a run with --data shapes-two"
        )
    if cfg.mode == "chameleon" and not a.regenerate:
        raise UserError(
            f"{a.run} is a chameleon run; token surgery needs a showo run (masked decoding "
            "re-writes one half in place): train one with --mode showo, or pass --regenerate "
            "to write the whole image from the edited caption"
        )
    if cfg.mode == "chameleon" and "--steps" in given(a, a.flags):
        raise UserError(f"--steps sets Show-o's decoding rounds; {a.run} is a chameleon run: "
                        "drop --steps")  # fmt: skip
    return model, cfg


def _describe(model, v, codes, mode: str) -> tuple[str, int]:
    """The model's greedy caption of the image, refused unless it is a two-object caption."""
    from generative.unified.evaluate import write_captions
    from generative.unified.surgery import pair_captions

    texts, nfe = write_captions(model, v, codes, mode)
    print(f"described caption: {texts[0] or '(none)'}")
    if texts[0] not in pair_captions():
        raise UserError(
            f"the model described the image as '{texts[0]}', not a two-object caption such as "
            "'a red square on the left, above a blue circle on the right'; nothing to edit "
            "(an undertrained run, or an image that is not a two-object scene)"
        )
    return texts[0], nfe


def _edit(model, v, mode, args: PromptArgs, a, codes, edited: str, half: int):
    """uint8 images (n, 16, 16, 3) of the edit and the network calls it made."""
    import torch

    from generative.discrete.data.patch_tokenizer import PatchTokenizer
    from generative.unified.evaluate import draw_images
    from generative.unified.surgery import surgery

    n = a.n or 1
    if a.regenerate:
        images, ok, nfe = draw_images(
            model, v, [edited] * n, mode, guidance=args.guidance,
            temperature=args.temperature, steps=args.steps, seed=args.seed,
        )  # fmt: skip
        for i in torch.nonzero(~ok).flatten().tolist():
            print(f"  image {i}: the model closed no image span (left black)")
        return images, nfe
    out, nfe = surgery(
        model, v, [v.encode_text(edited)] * n, codes.expand(n, IMAGE_LEN), torch.full((n,), half),
        steps=args.steps, guidance=args.guidance, temperature=args.temperature,
        generator=torch.Generator().manual_seed(args.seed),
    )  # fmt: skip
    return PatchTokenizer().decode(out), nfe


def _pixels(path, codes):
    """The input image at its own size (a .npy of codes is drawn at 128x128)."""
    import numpy as np
    from PIL import Image

    from generative.discrete.data.patch_tokenizer import PatchTokenizer

    if Path(path).suffix == ".npy":
        return np.kron(PatchTokenizer().decode(codes)[0], np.ones((8, 8, 1), np.uint8))
    return np.asarray(Image.open(path).convert("RGB"))


def _report(images, before, edited: str, half: int):
    """Print the checker's reading of each edit and whether the unedited half is identical to
    the input, pixel for pixel at the input's size; the edits at that size (n, H, W, 3)."""
    import numpy as np

    from generative.discrete.data import shapes as S
    from generative.discrete.data.checker import check

    k = before.shape[0] // S.SIZE
    after = np.kron(images, np.ones((1, k, k, 1), np.uint8))  # nearest-neighbour scaling
    res = check(images, True)
    keep = slice(0, before.shape[1] // 2) if half else slice(before.shape[1] // 2, None)
    side = ("right", "left")[half]
    for i in range(len(images)):
        a = [res.attributes[key][i] for key in ("shape", "colour", "quadrant")]
        seen = S.caption_pair(*a) if res.valid[i] else None
        halves = ", ".join(f"{s} half {'clean' if q >= 0 else 'not clean'}"
                           for s, q in zip(("left", "right"), a[2], strict=True))  # fmt: skip
        print(
            f"  image {i}: checker reads " + (f"'{seen}'" if seen else f"no clean scene ({halves})")
        )
        print(f"    edit success (the checker reads the edited caption): "
              f"{'yes' if seen == edited else 'no'}")  # fmt: skip
        same = bool((after[i][:, keep] == before[:, keep]).all())
        print(f"    unedited {side} half pixel-identical to the input: {'yes' if same else 'no'}")
    return after


def _save(before, after, out: Path, compare: Path):
    import numpy as np
    from PIL import Image

    from generative.cli.paths import make_parent

    make_parent(out)
    Image.fromarray(np.concatenate(list(after), axis=1)).save(out)
    gap = np.full((before.shape[0], max(1, before.shape[1] // 16), 3), 255, np.uint8)
    Image.fromarray(np.concatenate([before, gap, *after], axis=1)).save(compare)
    print(f"edited image(s) {after.shape[2] * len(after)}x{after.shape[1]} -> {out}; "
          f"input | edit(s) -> {compare}")  # fmt: skip
