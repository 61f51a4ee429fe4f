"""Bake what lesson 14's widgets show, with the models exp41 trained (benchmarks/exp41_think.py
keeps their weights in the gitignored benchmarks/.cache/exp41/; nothing is retrained here).

    python site/bake_think.py           # write site/baked/think/*.json (about a minute, one core)
    python site/bake_think.py --check   # re-verify; exit 1 if something is off

--check re-runs the exact checkers on every baked image (the stored values, validity and the
untouched half must follow from the stored tokens) and, where the weights are present and are
the ones baked from, re-decodes everything and compares token for token.

Files (tokens as strings, one character a position, see ALPHABET):
- think-edit.json: per prompt "draw a + b" (trained and held-out pairs), the think model's own
  trace and drawing, its drawings under a forced trace answer c' for several c', the same for the
  counterfactual model, and the direct model's drawing (its failure on held-out pairs).
- token-surgery.json: per two-object scene, one-word edits of either half; per edit the
  surgery's and the regeneration's tokens, scored by the exact checker against the new caption.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the package importable
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "site" / "baked" / "think"
CACHE = ROOT / "benchmarks" / ".cache" / "exp41"
EXP41 = ROOT / "benchmarks" / "results" / "exp41_think.json"
MODELS = ("direct", "think", "counterfactual", "showo")
SOURCES = [
    "site/bake_think.py",
    "generative/unified/think.py",
    "generative/unified/think_eval.py",
    "generative/unified/surgery.py",
    "generative/unified/showo.py",
    "generative/unified/decode.py",
    "benchmarks/exp41_think.py",
]
ALPHABET = string.digits + string.ascii_letters + "+/"
N_PROMPTS = 3  # per split
OTHER_ANSWERS = (5, 12, 30, 47, 81)  # forced trace answers c' offered besides a + b
N_SCENES = 4
SEED = 0


def enc(values) -> str:
    return "".join(ALPHABET[int(v)] for v in values)


def dec(s: str) -> list[int]:
    return [ALPHABET.index(c) for c in s]


def glyph_values(codes) -> list[int]:
    """The number each glyph token row shows (-1: not a clean glyph)."""
    import torch

    from generative.discrete.data.glyphs import check_glyphs, glyph_tokenizer

    res = check_glyphs(glyph_tokenizer().decode(torch.as_tensor(codes)))
    return [int(x) if ok else -1 for x, ok in zip(res.attributes["value"], res.valid, strict=True)]


def draw_think(model, v, pairs, variant: str) -> list[dict]:
    """Per pair: the free trace and drawing (THINK variants) or the direct drawing, and for THINK
    variants the drawing under each forced answer."""
    import torch

    from generative.unified.decode import generate, image_spans
    from generative.unified.think import IMAGE_CODES, composite_prompt
    from generative.unified.think_eval import MAX_LEN, trace_answers

    prompts, forced = [], []
    for a, b in pairs:
        prompts.append(composite_prompt(v, a, b, "direct" if variant == "direct" else "think"))
        if variant != "direct":
            for c in answers(a, b):
                prompts.append(composite_prompt(v, a, b, "think", c))
                forced.append(c)
    g = torch.Generator().manual_seed(SEED)
    gen = generate(model, v, prompts, 64, MAX_LEN, image_codes=IMAGE_CODES, generator=g)
    codes, _ = image_spans(gen, v, 64)
    drawn, said = glyph_values(codes), trace_answers(gen, v)
    out, k = [], 0
    for a, b in pairs:
        row = {"a": a, "b": b, "tokens": enc(codes[k]), "drawn": drawn[k]}
        if variant != "direct":
            row["trace"] = int(said[k])
            row["trace_text"] = trace_text(v, gen.tokens[k].tolist())
            row["forced"] = []
            for c in answers(a, b):
                k += 1
                row["forced"].append({"c": c, "tokens": enc(codes[k]), "drawn": drawn[k]})
        out.append(row)
        k += 1
    return out


def trace_text(v, row: list[int]) -> str:
    """The words the model wrote between THINK and ENDTHINK (to the end if it never closed)."""
    if v.THINK not in row:
        return ""
    words = row[row.index(v.THINK) + 1 :]
    stop = [i for i, t in enumerate(words) if t in (v.ENDTHINK, v.BOI, v.EOS, v.PAD)]
    return v.decode_text(words[: stop[0]] if stop else words)


def answers(a: int, b: int) -> list[int]:
    return sorted({a + b, *OTHER_ANSWERS})


def spread(pairs: list) -> list[tuple]:
    """N_PROMPTS pairs evenly spaced through the list (not the first few, which all start 0 +)."""
    n = len(pairs)
    return [tuple(pairs[(k + 1) * n // (N_PROMPTS + 1)]) for k in range(N_PROMPTS)]


def bake_think_edit(models: dict, exp41: dict) -> dict:
    from generative.unified.vocab import Vocab

    v = Vocab()
    pairs = {s: spread(exp41["pairs"][s]) for s in ("trained", "held_out")}
    prompts = [(a, b, s) for s, ps in pairs.items() for a, b in ps]
    ab = [(a, b) for a, b, _ in prompts]
    drawn = {m: draw_think(models[m], v, ab, m) for m in ("think", "counterfactual", "direct")}
    rows = [
        {"a": a, "b": b, "split": s, **{m: drawn[m][i] for m in drawn}}
        for i, (a, b, s) in enumerate(prompts)
    ]
    t = exp41["think"]
    summary = {m: {s: t[m][s]["accuracy"] for s in ("trained", "held_out")} for m in t}
    return {"prompts": rows, "exp41_accuracy": summary}


def scene_edits(n: int):
    """n two-object scenes (exp41's evaluation draw) and four edits each: colour and shape of
    either half, each to the next value."""
    import numpy as np

    from generative.discrete.data import shapes as S
    from generative.unified.surgery import edit_caption
    from generative.unified.vocab import Vocab

    v = Vocab()
    scenes = S.make_shapes(n, seed=10_000, two_objects=True)
    out = []
    for i in range(n):
        for half in (0, 1):
            for key, names in (("colour", S.COLOURS), ("shape", S.SHAPES)):
                labels = {k: np.array(x[i : i + 1], copy=True) for k, x in scenes.labels.items()}
                new = (int(labels[key][0, half]) + 1) % len(names)
                labels[key][0, half] = new
                cap = edit_caption(v, v.encode_text(scenes.captions[i]), half, names[new])
                out.append((i, half, v.decode_text(cap), labels))
    return scenes, out


def bake_token_surgery(model, exp41: dict) -> dict:
    import torch

    from generative.discrete.data.patch_tokenizer import PatchTokenizer
    from generative.unified.showo import showo_generate
    from generative.unified.surgery import surgery
    from generative.unified.vocab import Vocab

    v, tok = Vocab(), PatchTokenizer()
    scenes, edits = scene_edits(N_SCENES)
    codes = tok.encode(scenes.images)
    idx = torch.tensor([i for i, *_ in edits])
    half = torch.tensor([h for _, h, *_ in edits])
    caps = [v.encode_text(c) for _, _, c, _ in edits]
    g = torch.Generator().manual_seed(SEED)
    rounds = exp41["budget"]["showo_rounds"]
    cut, _ = surgery(model, v, caps, codes[idx], half, rounds, generator=g)
    regen, _ = showo_generate(model, v, [[v.BOS, *c, v.BOI] for c in caps], 64, steps=rounds,
                              generator=g)  # fmt: skip
    rows = []
    for k, (i, h, cap, labels) in enumerate(edits):
        row = {"scene": i, "half": h, "caption": cap}
        for name, c in (("surgery", cut[k]), ("regeneration", regen[k])):
            row[name] = {"tokens": enc(c), **score_edit(c, codes[i], h, labels)}
        rows.append(row)
    s = exp41["surgery"]
    return {
        "palette": tok.palette.tolist(),
        "scenes": [
            {"caption": c, "tokens": enc(codes[i])} for i, c in enumerate(scenes.captions)
        ],  # fmt: skip
        "edits": rows,
        "exp41": {
            m: {k: s[m][k] for k in ("edit_success", "valid", "untouched_preserved")}
            for m in ("surgery", "regeneration")
        },  # fmt: skip
    }


def score_edit(codes, original, half: int, labels: dict) -> dict:
    """The exact checker on an edited scene: valid, agrees with the new caption, and how many
    pixels of the half that was not edited differ from the original."""
    import torch

    from generative.discrete.data.patch_tokenizer import PatchTokenizer
    from generative.unified.evaluate import caption_agreement

    tok = PatchTokenizer()
    img, orig = tok.decode(torch.stack([torch.as_tensor(codes), torch.as_tensor(original)]))
    valid, agree = caption_agreement(img[None], labels, two_objects=True)
    cols = slice(8, 16) if half == 0 else slice(0, 8)
    changed = int((img[:, cols] != orig[:, cols]).any(-1).sum())
    return {"valid": bool(valid[0]), "agrees": bool(agree[0]), "untouched_changed": changed}


def weights_hash() -> dict:
    return {m: hashlib.sha256((CACHE / f"{m}.pt").read_bytes()).hexdigest()[:16] for m in MODELS}


def made(name: str, body: dict) -> dict:
    hashes = {s: hashlib.sha256((ROOT / s).read_bytes()).hexdigest()[:16] for s in SOURCES}
    return {"name": name, "alphabet": ALPHABET, **body, "weights": weights_hash(),
            "sources": hashes}  # fmt: skip


def bake_all() -> dict[str, dict]:
    from benchmarks.exp41_think import load_model

    exp41 = json.loads(EXP41.read_text())
    models = {m: load_model(m, CACHE)[0] for m in MODELS}
    return {
        "think-edit": made("think-edit", bake_think_edit(models, exp41)),
        "token-surgery": made("token-surgery", bake_token_surgery(models["showo"], exp41)),
    }


def dumps(body: dict) -> str:
    return json.dumps(body, separators=(",", ":")) + "\n"


def check_stored(stored: dict) -> list[str]:
    """What the stored tokens imply, re-derived by the exact checkers (no weights needed)."""
    problems = []
    for p in stored["think-edit"]["prompts"]:
        rows = [p[m] for m in ("think", "counterfactual", "direct")]
        rows += [f for m in ("think", "counterfactual") for f in p[m]["forced"]]
        got = glyph_values([dec(r["tokens"]) for r in rows])
        if got != [r["drawn"] for r in rows]:
            problems.append(f"think-edit: drawn values of {p['a']} + {p['b']} do not match")
    ts = stored["token-surgery"]
    scenes, edits = scene_edits(len(ts["scenes"]))
    for row, (i, h, cap, labels) in zip(ts["edits"], edits, strict=True):
        if (row["scene"], row["half"], row["caption"]) != (i, h, cap):
            problems.append(f"token-surgery: edit {i}/{h} is not the edit scene_edits() makes")
        orig = dec(ts["scenes"][i]["tokens"])
        for name in ("surgery", "regeneration"):
            want = score_edit(dec(row[name]["tokens"]), orig, h, labels)
            if {k: row[name][k] for k in want} != want:
                problems.append(f"token-surgery: scores of {name} on '{cap}' do not match")
    return problems


def check() -> list[str]:
    import torch

    torch.set_num_threads(1)
    stored = {}
    for n in ("think-edit", "token-surgery"):
        path = OUT / f"{n}.json"
        if not path.is_file():
            return [f"{n}: not baked (python site/bake_think.py)"]
        stored[n] = json.loads(path.read_text())
    problems = check_stored(stored)
    if all((CACHE / f"{m}.pt").is_file() for m in MODELS):
        if weights_hash() != stored["think-edit"]["weights"]:
            print("note: the cached weights are not the ones baked from; not re-decoding")
        else:
            for n, fresh in bake_all().items():
                bad = [k for k in fresh if k != "sources" and fresh[k] != stored[n].get(k)]
                problems += [f"{n}: '{k}' differs from a fresh bake" for k in bad]
    else:
        print(f"note: no weights in {CACHE} (run exp41); checked the stored data")
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--check", action="store_true", help="re-verify; exit 1 if stale")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    if args.check:
        problems = check()
        for line in problems:
            print(f"stale: {line}")
        print(f"checked in {time.perf_counter() - t0:.1f} s")
        return 1 if problems else 0
    import torch

    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, body in bake_all().items():
        path = OUT / f"{name}.json"
        path.write_text(dumps(body))
        print(f"{path}: {path.stat().st_size / 1024:.1f} KB")
    print(f"baked in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
