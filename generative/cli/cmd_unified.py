"""`generative unified`: one transformer over text and image tokens (lessons 13-14).

`unified train` builds its flags from UnifiedTrainConfig and trains with the one loop (run-folder
lock, checkpoints, --resume). `unified prompt RUN TEXT` hands the model a prompt in its own
vocabulary:
    "draw a red circle in the top left"   text -> image: a PNG, and any text the model wrote
    describe --image in.png               image -> text: the model's caption of the image
    "a red"                               (Chameleon runs) the model continues the document:
                                          it may finish the caption, then draw
`unified edit RUN --image in.png "make the left object blue"` edits one object (token surgery).
Grammar-constrained decoding (unified/decode.py) guarantees every image span has 64 tokens."""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from generative.cli.flags import add_flags, build, given
from generative.cli.paths import writable_file, writable_folder
from generative.config import option
from generative.errors import UserError
from generative.unified.train import UnifiedTrainConfig

IMAGE_LEN = 64  # the exact patch tokenizer's 8 x 8 codes
EXAMPLE = "draw a red circle in the top left"


@dataclass
class PromptArgs:
    """How a trained model writes."""

    temperature: float = option(1.0, "sampling temperature (0: greedy); describe is greedy", ge=0)
    guidance: float = option(1.0, "classifier-free guidance on the image span (1: off)", ge=0)
    steps: int = option(8, "masked decoding rounds of a Show-o run's image", ge=1, le=64)
    seed: int = option(0, "seeds the draws", ge=0)


def add(sub):
    p = sub.add_parser(
        "unified",
        help="one transformer over text and image tokens (train, prompt, edit)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = p.add_subparsers(dest="verb", required=True)
    t = verbs.add_parser("train", help="train on text -> image and image -> text documents")
    t.add_argument("--out", help="run folder (default: runs/unified-MODE-DATA-sSEED)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--dry-run", action="store_true", help="check every flag, train nothing")
    flags, _ = add_flags(t, [UnifiedTrainConfig], lambda owners: "model and training")
    t.set_defaults(func=cmd_train, flags=flags)

    s = verbs.add_parser("prompt", help="draw from text (PNG) or describe an image (text)")
    s.add_argument("run", help="a run folder written by `generative unified train`")
    s.add_argument("text", help=f"the prompt, e.g. '{EXAMPLE}' or 'describe' with --image")
    s.add_argument("--image", help="image to describe: a PNG (16x16, or a multiple as this "
                   "command writes) or a .npy of 64 patch codes")  # fmt: skip
    s.add_argument("--n", type=int, help="documents to write (default 1)")
    s.add_argument("--out", help="PNG to write (default unified.png)")
    sflags, _ = add_flags(s, [PromptArgs], lambda owners: "decoding")
    s.set_defaults(func=cmd_prompt, flags=sflags)
    from generative.cli import cmd_unified_edit  # its own file; it imports this one

    cmd_unified_edit.add(verbs)


# region: train
def _config(a) -> tuple[UnifiedTrainConfig, set | None]:
    """The run's config and, on --resume, the fields the flags set (a value equal to the
    default counts: --steps 1500 extends a 500-step run)."""
    from generative.checkpoint import resume_config
    from generative.unified.train import RESUMABLE, saved_unified

    values = given(a, a.flags)
    if not a.resume:
        return build(UnifiedTrainConfig, values, a.flags, "unified train"), None
    if not a.out:
        raise UserError("--resume needs --out RUN (the run to continue)")
    saved = saved_unified(a.out)
    cfg = build(UnifiedTrainConfig, values, a.flags, f"the run in {a.out}", base=saved)
    explicit = {a.flags[n].fields[UnifiedTrainConfig].name for n in values}
    return resume_config(saved, cfg, RESUMABLE, explicit)[0], explicit  # refusals before work


def cmd_train(a):
    from generative.unified.train import train_unified, validate

    cfg, explicit = _config(a)
    cfg = validate(cfg)
    out = writable_folder(a.out or f"runs/unified-{cfg.mode}-{cfg.data}-s{cfg.seed}", "--out")
    if not a.resume and (out / "state.json").exists():
        raise UserError(
            f"{out} already holds a run; pass --resume to continue it, or choose another --out"
        )
    if a.dry_run:
        return print(json.dumps({"out": str(out), **dataclasses.asdict(cfg)}))
    try:
        model, state, _ = train_unified(cfg, out, True, a.resume, explicit)
    except KeyboardInterrupt as exc:
        if str(exc):  # the loop says where it saved
            raise
        raise KeyboardInterrupt(f"no checkpoint was written to {out}") from None
    loss = state["losses"][-1][1] if state["losses"] else float("nan")
    size = f"{model.num_params() / 1e6:.2f}M parameters"
    print(f"trained unified {cfg.mode} on {cfg.data}: {state['step']} steps, loss {loss:.4f}, "
          f"{size} ({state['wall_s']:.0f}s) -> {out}")  # fmt: skip
    print(f'prompt with: generative unified prompt {out} "{EXAMPLE}" --out x.png')


# endregion


# region: prompt
def cmd_prompt(a):
    from generative.unified.vocab import Vocab

    args = build(PromptArgs, given(a, a.flags), a.flags, "unified prompt")
    if a.n is not None and a.n < 1:
        raise UserError(f"--n must be at least 1, got {a.n}")
    v = Vocab()
    words = a.text.split()
    task = words[0] if words else ""
    ids = v.encode_text(a.text)  # a word outside the vocabulary is refused before the model loads
    if (task == "describe") != (a.image is not None):
        raise UserError(
            "describe goes with --image (a PNG or a .npy of codes), and --image with the prompt "
            f"'describe'; got '{a.text}'" + ("" if a.image is None else f" and --image {a.image}")
        )
    if task == "describe":
        unused = [*given(a, a.flags), *(["--n"] if a.n else []), *(["--out"] if a.out else [])]
        if len(words) > 1 or unused:
            raise UserError(
                f"describe writes one greedy caption of the image and no file; drop "
                f"{', '.join(unused) or 'the words after describe'}"
            )
        return _describe(a, v, args)
    a.n = a.n or 1
    out = writable_file(a.out or "unified.png", "--out")
    if task == "draw":  # the task word says: write an image now (the prompt ends in BOI)
        return _write(a, v, args, [v.BOS, *ids[1:], v.BOI], out)
    return _write(a, v, args, [v.BOS, *ids], out)


def _load(a):
    from generative.unified.train import load_unified

    model, cfg = load_unified(a.run)
    if "--steps" in given(a, a.flags) and cfg.mode == "chameleon":
        raise UserError(
            f"--steps sets Show-o's decoding rounds; {a.run} is a chameleon run (it writes one "
            "token per network call): drop --steps"
        )
    return model, cfg


def _write(a, v, args: PromptArgs, prompt: list[int], out: Path):
    """Text -> image (or a free continuation): the documents, the PNG, the checker's reading."""
    import time

    import torch

    model, cfg = _load(a)
    room = model.cfg.max_len - IMAGE_LEN - 2  # the image, EOI and EOS must still fit
    if len(prompt) > room:
        raise UserError(
            f"the prompt is {len(prompt)} tokens; this model's documents leave room for {room} "
            "before the image (its longest training caption)"
        )
    g, t0 = torch.Generator().manual_seed(args.seed), time.perf_counter()
    prompts = [prompt] * a.n
    if cfg.mode == "showo":
        if prompt[-1] != v.BOI:
            raise UserError(
                f"{a.run} is a Show-o run: it writes an image span in parallel, not a document "
                f"token by token; start the prompt with 'draw' (e.g. '{EXAMPLE}')"
            )
        from generative.unified.showo import showo_generate

        codes, nfe = showo_generate(
            model, v, prompts, IMAGE_LEN, steps=args.steps, guidance=args.guidance,
            temperature=args.temperature, generator=g,
        )  # fmt: skip
        docs = [[*prompt, *(codes[i] + v.image_offset).tolist(), v.EOI] for i in range(a.n)]
        ok = torch.ones(a.n, dtype=torch.bool)
    else:
        from generative.unified.decode import generate, image_spans

        gen = generate(
            model, v, prompts, IMAGE_LEN, model.cfg.max_len, temperature=args.temperature,
            guidance=args.guidance, generator=g,
        )  # fmt: skip
        codes, ok = image_spans(gen, v, IMAGE_LEN)
        docs = [gen.tokens[i, : int(gen.lengths[i])].tolist() for i in range(a.n)]
        nfe = gen.nfe
    for i, doc in enumerate(docs):
        print(f"document {i}: {_show(v, doc)}")
        print(f"  text the model wrote: {_written_text(v, doc[len(prompt) :]) or '(none)'}")
    _save_images(v, cfg, codes, ok, out)
    print(f"{nfe} network calls (NFE) for {a.n} document(s), {cfg.mode} mode "
          f"({time.perf_counter() - t0:.1f}s)")  # fmt: skip


def _show(v, ids) -> str:
    """A document as words and markers, each image span as <image: N tokens>."""
    parts, run = [], 0
    for i in [*ids, -1]:
        if i >= 0 and bool(v.is_image(i)):
            run += 1
            continue
        if run:
            parts.append(f"<image: {run} tokens>")
            run = 0
        if i >= 0 and i != v.PAD:
            parts.append(v.decode_text([i]))
    return " ".join(parts).replace(" ,", ",")


def _written_text(v, ids) -> str:
    """The words (no markers, no image tokens) among the ids the model wrote."""
    words = set(v.words)
    return v.decode_text([i for i in ids if i < v.image_offset and v.text[i] in words])


def _save_images(v, cfg, codes, ok, out: Path):
    import numpy as np
    from PIL import Image

    from generative.discrete.data import shapes as S
    from generative.discrete.data.checker import check
    from generative.discrete.data.patch_tokenizer import PatchTokenizer

    if not bool(ok.any()):
        return print("no image: no document closed an image span (no BOI, or out of room)")
    images = PatchTokenizer().decode(codes)  # (N, 16, 16, 3); a row without a span is black
    two = cfg.data == "shapes-two"
    res = check(images, two)
    for i in range(len(images)):
        a = [res.attributes[k][i] for k in ("shape", "colour", "quadrant")]
        seen = (S.caption_pair if two else S.caption)(*a) if res.valid[i] else None
        state = f"a clean scene: {seen}" if seen else "not a clean scene"
        print(f"  image {i}: {state if ok[i] else 'no image span (left black)'}")
    grid = np.concatenate(list(images), axis=1)  # (16, 16 n, 3)
    Image.fromarray(grid).resize((grid.shape[1] * 8, 128), Image.NEAREST).save(out)
    print(f"image(s) {grid.shape[1] * 8}x128 -> {out}")


def _describe(a, v, args: PromptArgs):
    import time

    from generative.unified.evaluate import write_captions

    codes = read_image(a.image, v)  # a bad image is refused before the model loads
    model, cfg = _load(a)
    t0 = time.perf_counter()
    texts, nfe = write_captions(model, v, codes, cfg.mode)
    print(f"caption: {texts[0] or '(none)'}")
    print(f"{nfe} network calls (NFE), greedy, {cfg.mode} mode "
          f"({time.perf_counter() - t0:.1f}s)")  # fmt: skip


def read_image(path, v):
    """Patch codes (1, 64) of a PNG (16x16, or a multiple drawn with nearest-neighbour scaling)
    or of a .npy holding the 64 codes."""
    import numpy as np
    import torch

    from generative.discrete.data.patch_tokenizer import PatchTokenizer

    path = Path(path)
    if not path.is_file():
        raise UserError(f"--image {path}: no such file")
    if path.suffix == ".npy":
        codes = np.load(path, allow_pickle=False)
        if codes.size != IMAGE_LEN or not np.issubdtype(codes.dtype, np.integer):
            raise UserError(f"--image {path}: expected {IMAGE_LEN} integer patch codes, "
                            f"got {codes.dtype} of shape {codes.shape}")  # fmt: skip
        v.encode_image(codes)  # refuses codes outside the tokenizer's range
        return torch.as_tensor(codes.reshape(1, IMAGE_LEN), dtype=torch.long)
    from PIL import Image

    try:
        image = np.asarray(Image.open(path).convert("RGB"))
    except OSError as exc:
        raise UserError(f"--image {path}: not an image ({exc})") from None
    h, w = image.shape[:2]
    if h != w or h % 16:
        raise UserError(f"--image {path}: {w}x{h} pixels; expected a square 16x16 scene or "
                        "a multiple of it (this command writes 128x128)")  # fmt: skip
    try:  # refuses off-palette pixels and two-colour patches
        return PatchTokenizer().encode(image[None, :: h // 16, :: h // 16])
    except UserError as exc:
        raise UserError(f"--image {path}: {exc}; expected a `shapes` scene: black, objects in "
                        "pure red, green, blue or yellow (channels 0, 255)") from None  # fmt: skip


# endregion
