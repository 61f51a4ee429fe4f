"""Bake what lesson 13's widget (site/widgets/unified-prompt.js) plays back: one small unified
transformer per mode (generative/unified/train.py, exp40's cpu10 budget), traced as it writes
images from captions, captions from images, and images with the grammar switched off.

    python site/bake_unified.py           # train (or load the cache), write site/baked/unified/
    python site/bake_unified.py --check   # cheap re-verification of the baked files, no training

Training takes several CPU-minutes per mode, so the weights are cached (gitignored) under
benchmarks/.cache/unified/<mode>-<hash of the config>.safetensors; a re-run loads them.

Files (image codes as strings, one character a patch, see ALPHABET; "." = not yet written):
- t2i.json: the vocabulary (id -> string) and, per caption of `shapes` (all 64) and draw, the
  image each run wrote and the exact checker's verdict. Runs: Chameleon at sampling temperatures
  1 and 1.5 (one call a token, raster order, so no per-patch step is stored) and Show-o (with
  the round of masked decoding that wrote each patch).
- i2t.json: a few images of `shapes`, the caption each model writes for them (greedy), the truth.
- markers-off.json: Chameleon decoding with the grammar mask dropped (BOI/EOI not forced, any id
  of the vocabulary may come next), at the same temperatures: per caption and draw, the ids
  written after the prompt (two characters an id), how many image tokens the span held before
  its first other id, and the checker's verdict.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import string
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the package importable
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "site" / "baked" / "unified"
CACHE = ROOT / "benchmarks" / ".cache" / "unified"
EXP40 = ROOT / "benchmarks" / "results" / "exp40_unified.json"
ALPHABET = string.digits + string.ascii_letters + "+/"  # codes 0..60 -> one character
MASK_CHAR = "."
SEED = 0
MODES = ("chameleon", "showo")


def train_config(mode: str):
    """exp40's cpu10 budget, read from its results so the widget shows the lab's models."""
    from generative.unified.train import UnifiedTrainConfig

    b = json.loads(EXP40.read_text())["budget"]
    steps = b["chameleon_steps"] if mode == "chameleon" else b["showo_steps"]
    return UnifiedTrainConfig(mode=mode, n_train=b["n_train"], steps=steps,
                              batch_size=b["batch"], lr=b["lr"], hidden=b["hidden"],
                              depth=b["depth"], seed=SEED, threads=1)  # fmt: skip


def cache_path(cfg) -> Path:
    key = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode()).hexdigest()[:12]
    return CACHE / f"{cfg.mode}-{key}.safetensors"


def trained(mode: str, allow_train: bool = True):
    """(model in eval mode, its train config): loaded from the cache, else trained and cached."""
    from safetensors.torch import load_file, save_file

    from generative.unified.train import build_model, train_unified
    from generative.unified.vocab import Vocab

    cfg = train_config(mode)
    path = cache_path(cfg)
    if path.is_file():
        tensors = load_file(path)
        model = build_model(Vocab(), cfg, tensors["pos_embed"].shape[1])
        model.load_state_dict(tensors)
        return model.eval(), cfg
    if not allow_train:
        raise SystemExit(f"{path} missing: run python site/bake_unified.py (trains it)")
    c0 = time.process_time()
    model, _, _ = train_unified(cfg, progress=False)
    cpu = time.process_time() - c0
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: t.contiguous() for k, t in model.state_dict().items()}, str(path))
    print(f"trained {mode} in {cpu:.0f} CPU-s -> {path.relative_to(ROOT)}", flush=True)
    return model.eval(), cfg


# -- what the widget plays back ----------------------------------------------------------------
DRAWS = 4  # samples per caption and run
TEMPERATURES = (1.0, 1.5)  # Chameleon; at 1 a trained model rarely breaks the span on its own
I2T_IMAGES = 8
SHOWO_ROUNDS, CHOICE_TEMPERATURE = 8, 4.5  # exp40's Show-o decoding (showo.showo_generate)
IMAGE_LEN = 64


def enc(values, offset: int = 0) -> str:
    """Ints (-1 = not yet written) -> a string, one character each."""
    return "".join(MASK_CHAR if v < 0 else ALPHABET[int(v) - offset] for v in values)


def dec(s: str, offset: int = 0) -> list[int]:
    return [-1 if c == MASK_CHAR else ALPHABET.index(c) + offset for c in s]


def enc_ids(ids) -> str:
    """Vocabulary ids (< 64 * 64) -> two characters each."""
    return "".join(ALPHABET[i // 64] + ALPHABET[i % 64] for i in ids)


def dec_ids(s: str) -> list[int]:
    return [64 * ALPHABET.index(s[i]) + ALPHABET.index(s[i + 1]) for i in range(0, len(s), 2)]


def all_captions():
    """The 64 single-object captions, in (colour, shape, quadrant) order, with their labels."""
    from generative.discrete.data import shapes as S

    rows = [(c, s, q) for c in range(4) for s in range(4) for q in range(4)]
    labels = {k: [r[j] for r in rows] for j, k in enumerate(("colour", "shape", "quadrant"))}
    return [S.caption(s, c, q) for c, s, q in rows], labels


def verdicts(codes, labels: dict, draws: int) -> tuple[list[bool], list[bool]]:
    """(valid, agrees with its caption) of image codes (N, 64), `draws` rows per caption."""
    import numpy as np

    from generative.discrete.data.patch_tokenizer import PatchTokenizer
    from generative.unified.evaluate import caption_agreement

    lab = {k: np.repeat(np.asarray(x), draws) for k, x in labels.items()}
    valid, agree = caption_agreement(PatchTokenizer().decode(codes), lab, False)
    return valid.tolist(), agree.tolist()


def t2i_prompts(v):
    from generative.unified.documents import prompts_t2i

    captions, labels = all_captions()
    return prompts_t2i(v, [c for c in captions for _ in range(DRAWS)]), labels


# region: t2i-traces
def chameleon_t2i(model, v, prompts, temperature, g):
    """Grammar on, one call a token in raster order: (codes (N, 64), calls)."""
    from generative.unified.decode import generate, image_spans

    gen = generate(model, v, prompts, IMAGE_LEN, model.cfg.max_len, temperature=temperature,
                   generator=g)  # fmt: skip
    codes, ok = image_spans(gen, v, IMAGE_LEN)
    assert bool(ok.all()), "the grammar closes every span"
    return codes, gen.nfe


def showo_t2i(model, v, prompts, g):
    """Masked decoding of the span in SHOWO_ROUNDS rounds: (codes, round of each patch, calls)."""
    import torch

    from generative.discrete.objectives.maskgit import decode
    from generative.unified.showo import SpanNet

    net = SpanNet(model, v, prompts, IMAGE_LEN, v.image_codes)
    start = torch.full((len(prompts), IMAGE_LEN), v.image_codes, dtype=torch.long)
    res = decode(start, net, v.image_codes, steps=SHOWO_ROUNDS,
                 choice_temperature=CHOICE_TEMPERATURE, generator=g)  # fmt: skip
    return res.tokens, res.fixed_round, net.calls


# endregion


def run_summary(rows: list[dict], calls: int, **extra) -> dict:
    share = lambda k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
    return {**extra, "calls": int(calls), "valid_share": share("valid"),
            "agree_share": share("agrees"), "rows": rows}  # fmt: skip


def bake_t2i(models: dict, v) -> dict:
    import torch

    prompts, labels = t2i_prompts(v)
    runs = {}
    for t in TEMPERATURES:
        codes, calls = chameleon_t2i(
            models["chameleon"], v, prompts, t, torch.Generator().manual_seed(1)
        )
        valid, agree = verdicts(codes, labels, DRAWS)
        rows = [{"tokens": enc(c), "valid": ok, "agrees": a}
                for c, ok, a in zip(codes.tolist(), valid, agree, strict=True)]  # fmt: skip
        runs[f"chameleon-{t:g}"] = run_summary(rows, calls, temperature=t)
    codes, rounds, calls = showo_t2i(models["showo"], v, prompts, torch.Generator().manual_seed(1))
    valid, agree = verdicts(codes, labels, DRAWS)
    rows = [{"tokens": enc(c), "step": enc(s, offset=1), "valid": ok, "agrees": a}
            for c, s, ok, a in zip(codes.tolist(), rounds.tolist(), valid, agree,
                                   strict=True)]  # fmt: skip
    runs["showo"] = run_summary(rows, calls, temperature=1.0, rounds=SHOWO_ROUNDS)
    return {"captions": all_captions()[0], "labels": labels, "draws": DRAWS,
            "temperatures": list(TEMPERATURES), "runs": runs}  # fmt: skip


def showo_reader(model, v):
    """The Show-o model on `BOS BOI image EOI ...`: full attention inside the image span."""
    import torch

    def net(tokens):
        pos = torch.arange(tokens.shape[1])[None]
        start = (tokens == v.BOI).float().argmax(1, keepdim=True) + 1  # (B, 1)
        return model(tokens, (pos >= start) & (pos < start + IMAGE_LEN))

    return net


def bake_i2t(models: dict, v) -> dict:
    """Greedy captions of I2T_IMAGES fresh scenes with different captions, as exp40 scores them."""
    from generative.discrete.data.patch_tokenizer import PatchTokenizer
    from generative.discrete.data.shapes import ShapesData, make_shapes
    from generative.unified.decode import generate
    from generative.unified.documents import prompts_i2t

    scenes = make_shapes(64, seed=10_000)
    keep = [scenes.captions.index(c) for c in dict.fromkeys(scenes.captions)][:I2T_IMAGES]
    scenes = ShapesData(scenes.images[keep], {}, [scenes.captions[i] for i in keep])
    codes = PatchTokenizer().encode(scenes.images)
    prompts = prompts_i2t(v, codes)
    rows = [{"tokens": enc(c), "truth": t, "written": {}}
            for c, t in zip(codes.tolist(), scenes.captions, strict=True)]  # fmt: skip
    for mode, model in models.items():
        net = model if mode == "chameleon" else showo_reader(model, v)
        gen = generate(net, v, prompts, IMAGE_LEN, model.cfg.max_len, temperature=0.0)
        for r, p, row, n in zip(rows, prompts, gen.tokens.tolist(), gen.lengths.tolist(),
                                strict=True):  # fmt: skip
            r["written"][mode] = row[len(p) : n]  # ids after EOI, up to and including EOS
    return {"rows": rows}


# region: markers-off
def free_decode(model, v, prompts, max_len: int, temperature: float, g) -> list[list[int]]:
    """Chameleon decoding with the grammar dropped: the full softmax over the vocabulary at every
    step, so nothing forces 64 image tokens after BOI, nor EOI after them. Returns the ids each
    row wrote after its prompt, up to EOS or max_len."""
    import torch

    from generative.discrete.objectives.categorical import sample_logits
    from generative.unified.documents import pad_rows

    B = len(prompts)
    buf = pad_rows(prompts, v.PAD, max_len)  # (B, max_len)
    lengths = torch.tensor([len(p) for p in prompts])
    done = torch.zeros(B, dtype=torch.bool)
    while (live := ~done & (lengths < max_len)).any():
        with torch.no_grad():
            logits = model(buf[:, : int(lengths.max())])[torch.arange(B), lengths - 1]  # (B, V)
        tok = sample_logits(logits, temperature, g)  # no mask on the logits: any id may come
        buf[live, lengths[live]] = tok[live]
        done |= live & (tok == v.EOS)
        lengths = lengths + live.long()
    return [buf[i, len(p) : int(lengths[i])].tolist() for i, p in enumerate(prompts)]


def span_report(written: list[int], v) -> dict:
    """The span after BOI: image tokens before the first other id, that id (None: the row
    ended), and whether the span is well formed (exactly 64 image tokens, then EOI)."""
    n = next((i for i, t in enumerate(written) if not v.is_image(t)), len(written))
    stop = written[n] if n < len(written) else None
    return {"image_tokens": n, "stop": stop, "span_ok": n == IMAGE_LEN and stop == v.EOI}


# endregion


def free_rows(written: list[list[int]], v, labels) -> list[dict]:
    """Each free draw's report and verdict (a broken span has no image: never valid)."""
    import torch

    reports = [span_report(w, v) for w in written]
    spans = [w[:IMAGE_LEN] if r["span_ok"] else [v.image_offset] * IMAGE_LEN
             for w, r in zip(written, reports, strict=True)]  # fmt: skip
    codes = torch.tensor(spans) - v.image_offset
    valid, agree = verdicts(codes, labels, DRAWS)
    return [{"written": enc_ids(w), **r, "valid": ok and r["span_ok"], "agrees": a and r["span_ok"]}
            for w, r, ok, a in zip(written, reports, valid, agree, strict=True)]  # fmt: skip


def bake_markers_off(model, v) -> dict:
    import torch

    prompts, labels = t2i_prompts(v)
    runs = {}
    for t in TEMPERATURES:
        g = torch.Generator().manual_seed(2)
        rows = free_rows(free_decode(model, v, prompts, model.cfg.max_len, t, g), v, labels)
        span_ok = sum(r["span_ok"] for r in rows) / len(rows)
        runs[f"{t:g}"] = run_summary(rows, max(len(r["written"]) // 2 for r in rows),
                                     temperature=t, span_ok_share=span_ok)  # fmt: skip
    return {"mode": "chameleon", "draws": DRAWS, "max_len": model.cfg.max_len, "runs": runs}


def vocab_info(v) -> dict:
    ids = {n: getattr(v, n) for n in ("PAD", "BOS", "EOS", "BOI", "EOI", "MASK")}
    return {"text": v.text, "image_offset": v.image_offset, "size": v.size, "ids": ids}


SOURCES = ["site/bake_unified.py", "generative/unified/vocab.py", "generative/unified/model.py",
           "generative/unified/decode.py", "generative/unified/showo.py",
           "generative/unified/documents.py", "generative/unified/train.py",
           "generative/discrete/objectives/maskgit.py",
           "generative/discrete/data/checker.py"]  # fmt: skip
NAMES = ("t2i", "i2t", "markers-off")


def made(name: str, body: dict, training: dict) -> dict:
    from generative.discrete.data.shapes import PALETTE

    hashes = {s: hashlib.sha256((ROOT / s).read_bytes()).hexdigest()[:16] for s in SOURCES}
    return {"name": name, "alphabet": ALPHABET, "mask_char": MASK_CHAR,
            "palette": PALETTE.tolist(), "training": training, **body,
            "sources": hashes}  # fmt: skip


def bake_all(loaded: dict) -> dict[str, dict]:
    """Every file from the models: mode -> (model, its train config)."""
    from generative.unified.vocab import Vocab

    v, models = Vocab(), {m: x[0] for m, x in loaded.items()}
    training = {m: {**asdict(c), "params": x.num_params()} for m, (x, c) in loaded.items()}
    return {
        "t2i": made("t2i", {"vocab": vocab_info(v), **bake_t2i(models, v)}, training),
        "i2t": made("i2t", bake_i2t(models, v), training),
        "markers-off": made("markers-off", bake_markers_off(models["chameleon"], v), training),
    }


def dumps(body: dict) -> str:
    return json.dumps(body, separators=(",", ":")) + "\n"


def check_stored(stored: dict) -> list[str]:
    """What needs no network: every image's verdict by the exact checker, every span report
    re-read from its written ids, every i2t truth against its image."""
    import torch

    from generative.discrete.data import shapes as S
    from generative.discrete.data.checker import check as exact_check
    from generative.discrete.data.patch_tokenizer import PatchTokenizer
    from generative.unified.vocab import Vocab

    v, problems = Vocab(), []
    t2i = stored["t2i"]
    for name, run in t2i["runs"].items():
        codes = torch.tensor([dec(r["tokens"]) for r in run["rows"]])
        if verdicts(codes, t2i["labels"], t2i["draws"]) != (
            [r["valid"] for r in run["rows"]], [r["agrees"] for r in run["rows"]]):  # fmt: skip
            problems.append(f"t2i {name}: a recorded verdict differs from the exact checker's")
        if any(not 1 <= s <= run["calls"] for r in run["rows"] for s in dec(r.get("step", ""), 1)):
            problems.append(f"t2i {name}: a patch written outside calls 1..{run['calls']}")
    for name, run in stored["markers-off"]["runs"].items():
        written = [dec_ids(r["written"]) for r in run["rows"]]
        keys = ("image_tokens", "stop", "span_ok")
        if [span_report(w, v) for w in written] != [{k: r[k] for k in keys} for r in run["rows"]]:
            problems.append(f"markers-off {name}: a span report differs from its written ids")
        pick = lambda rows: [(r["valid"], r["agrees"]) for r in rows]  # noqa: E731
        if pick(free_rows(written, v, t2i["labels"])) != pick(run["rows"]):
            problems.append(f"markers-off {name}: a recorded verdict differs from the checker's")
    for r in stored["i2t"]["rows"]:
        res = exact_check(PatchTokenizer().decode(torch.tensor([dec(r["tokens"])])))
        a = {k: int(res.attributes[k][0]) for k in ("shape", "colour", "quadrant")}
        if not res.valid[0] or S.caption(a["shape"], a["colour"], a["quadrant"]) != r["truth"]:
            problems.append(f"i2t: the image of '{r['truth']}' does not show it")
    return problems


def check(models: bool = True) -> list[str]:
    """Verify the baked files; with models and the cached weights, also decode everything again
    and compare (never trains: without the cache that part is skipped, with a note)."""
    import torch

    torch.set_num_threads(1)
    stored = {}
    for n in NAMES:
        path = OUT / f"{n}.json"
        if not path.is_file():
            return [f"{n}: not baked (python site/bake_unified.py)"]
        stored[n] = json.loads(path.read_text())
    problems = check_stored(stored)
    cached = all(cache_path(train_config(m)).is_file() for m in MODES)
    if models and cached:
        fresh = bake_all({m: trained(m, allow_train=False) for m in MODES})
        problems += [f"{n}: '{key}' differs from a fresh decode" for n in NAMES for key in fresh[n]
                     if key != "sources" and fresh[n][key] != stored[n].get(key)]  # fmt: skip
    elif models:
        print("note: no cached weights (benchmarks/.cache/unified/): checked the stored files only")
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--check", action="store_true", help="verify the baked files; exit 1 if not")
    p.add_argument("--train-only", action="store_true", help="train (or load) the models only")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    if args.check:
        problems = check()
        for line in problems:
            print(f"stale: {line}")
        print(f"checked in {time.perf_counter() - t0:.1f} s")
        return 1 if problems else 0
    loaded = {m: trained(m) for m in MODES}
    if args.train_only:
        return 0
    baked = bake_all(loaded)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, b in baked.items():
        path = OUT / f"{name}.json"
        path.write_text(dumps(b))
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.1f} KB")
    print(f"baked in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
