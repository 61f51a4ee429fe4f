"""`generative hybrid`: the two-tower pipeline (a text encoder + a separate image generator:
masked tokens or latent flow matching). `hybrid train` builds its flags from HybridConfig;
`hybrid sample RUN --caption ...` writes PNGs; `hybrid evaluate RUN` scores swap-pair captions
(binding, validity)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from generative.cli.flags import add_flags, build, given
from generative.cli.paths import writable_file, writable_folder
from generative.config import option
from generative.continuous.flow_matching import SOLVERS
from generative.discrete.decoders import DECODERS
from generative.errors import UserError
from generative.hybrid.train import HybridConfig


@dataclass
class HybridSampleArgs:
    """How a trained pipeline draws."""

    guidance: float = option(2.0, "classifier-free guidance weight (1: plain conditional)", ge=0)
    decoder: str = option("fixed", "MaskGIT decoding: fixed rounds or an entropy budget",
                          choices=DECODERS)  # fmt: skip
    steps: int = option(32, "decoding rounds (fixed decoder) or ODE steps (latent-fm)", ge=1,
                        le=64)  # fmt: skip
    solver: str = option("heun", "ODE solver (latent-fm runs)", choices=SOLVERS)
    entropy_budget: float = option(0.5, "bits fixed per round (adaptive decoder)", ge=0)
    seed: int = option(0, "seeds the decoder's draws", ge=0)


def add(sub):
    p = sub.add_parser(
        "hybrid",
        help="two-tower pipeline: text encoder + image generator (masked tokens or latent flow "
        "matching; train, sample, evaluate)",
        description=__doc__,
    )
    verbs = p.add_subparsers(dest="verb", required=True)
    t = verbs.add_parser("train", help="pre-train/freeze the encoder, train the generator")
    t.add_argument("--out", help="run folder (default: runs/hybrid-GENERATOR-ENCODER-COND-sSEED)")
    t.add_argument("--dry-run", action="store_true", help="check every flag, train nothing")
    flags, _ = add_flags(t, [HybridConfig], lambda owners: "pipeline")
    t.set_defaults(func=cmd_train, flags=flags)

    s = verbs.add_parser("sample", help="draw images for a caption -> PNG")
    s.add_argument("run", help="a run folder written by `generative hybrid train`")
    example = "a red square on the left, above a blue circle on the right"
    s.add_argument("--caption", required=True, help=f"e.g. '{example}'")
    s.add_argument("--n", type=int, default=8, help="images to draw (default 8)")
    s.add_argument("--out", default="hybrid.png", help="PNG to write (default hybrid.png)")
    sflags, _ = add_flags(s, [HybridSampleArgs], lambda owners: "sampling")
    s.set_defaults(func=cmd_sample, flags=sflags)

    e = verbs.add_parser("evaluate", help="binding and validity on swap-pair captions")
    e.add_argument("run", help="a run folder written by `generative hybrid train`")
    e.add_argument("--pairs", type=int, default=100, help="swap pairs to score (default 100)")
    eflags, _ = add_flags(e, [HybridSampleArgs], lambda owners: "sampling")
    e.set_defaults(func=cmd_evaluate, flags=eflags)


def cmd_train(a):
    from generative.hybrid.train import check_sizes, train_hybrid

    cfg = check_sizes(build(HybridConfig, given(a, a.flags), a.flags, "hybrid train"))
    half = "-half" if cfg.tokens == "half" else ""  # patch runs keep their old folder names
    out = writable_folder(
        a.out or f"runs/hybrid-{cfg.generator}{half}-{cfg.encoder}-{cfg.conditioning}-s{cfg.seed}",
        "--out",
    )
    if (out / "state.json").exists():
        raise UserError(f"{out} already holds a run; pass another --out")
    if a.dry_run:
        return print(json.dumps({"out": str(out), **dataclasses.asdict(cfg)}))
    _, state = train_hybrid(cfg, out, progress=True)
    notes = "".join(f", {k} {v:.3f}" for k, v in state["notes"].items())
    print(f"trained {cfg.generator} {cfg.encoder}/{cfg.conditioning}: loss "
          f"{state['losses'][-1][1]:.4f}{notes} ({state['wall_s']:.0f}s) -> {out}")  # fmt: skip


def _sampling(a) -> dict:
    args = build(HybridSampleArgs, given(a, a.flags), a.flags, f"hybrid {a.verb}")
    return dataclasses.asdict(args)


def cmd_sample(a):
    import numpy as np
    from PIL import Image

    from generative.hybrid.captions import encode
    from generative.hybrid.evaluate import sample
    from generative.hybrid.score import score
    from generative.hybrid.train import load_hybrid

    if a.n < 1:
        raise UserError(f"--n must be at least 1, got {a.n}")
    caps = encode([a.caption] * a.n)  # a bad caption is refused before the model loads
    out = writable_file(a.out, "--out")
    model, _ = load_hybrid(a.run)
    images, calls = sample(model, caps, **_sampling(a))
    grid = np.concatenate(list(images), axis=1)  # (16, 16 n, 3)
    Image.fromarray(grid).resize((grid.shape[1] * 8, 128), Image.NEAREST).save(out)
    s = score(images, caps.attrs.numpy())
    print(f"{a.n} images, {calls} network calls: near-valid {s['near_valid']:.2f}, binding "
          f"{s['binding']:.2f} -> {out}")  # fmt: skip


def cmd_evaluate(a):
    from generative.hybrid.evaluate import evaluate
    from generative.hybrid.train import load_hybrid

    if a.pairs < 1:
        raise UserError(f"--pairs must be at least 1, got {a.pairs}")
    model, cfg = load_hybrid(a.run)
    r = evaluate(model, a.pairs, **_sampling(a))
    head = {"generator": cfg.generator, "encoder": cfg.encoder, "conditioning": cfg.conditioning}
    if cfg.generator == "masked":
        head["tokens"] = cfg.tokens
    print(json.dumps({**head, **r}, indent=1))
