"""Bake the token traces that lessons 10 and 12 scrub: every run decodes `shapes` scenes with
the package's own decoders, with the exact posterior (generative/discrete/oracle.py) in place of
a network, so a trace shows what the decoder does when the conditionals are perfect. No trained
network is needed; the one trained trace shown (lesson 12) is copied from the lab's
benchmarks/results/exp30_maskgit_steps_trace.json.

    python site/bake_partb.py           # write site/baked/partb/*.json (about a minute, one core)
    python site/bake_partb.py --check   # re-compute everything and compare; exit 1 if it differs

Files (tokens and steps as strings, one character a position, see ALPHABET):
- decode-scrub.json: per prompt and draw, the same class decoded autoregressively (token by token,
  the exact next-token law), by MaskGIT (T rounds) and by MDLM (ancestral steps); per position
  the network call after which it was fixed.
- unmask-rounds.json: MaskGIT over a grid of rounds T, mask schedule, choice temperature and
  corrector calls; the rounds of four prompts and the validity of a batch by the exact checker.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the package importable
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "site" / "baked" / "partb"
EXP30 = ROOT / "benchmarks" / "results" / "exp30_maskgit_steps.json"
EXP30_TRACE = ROOT / "benchmarks" / "results" / "exp30_maskgit_steps_trace.json"
SOURCES = [
    "site/bake_partb.py",
    "generative/discrete/oracle.py",
    "generative/discrete/decoders.py",
    "generative/discrete/objectives/maskgit.py",
    "generative/discrete/objectives/mdlm.py",
    "generative/discrete/objectives/categorical.py",
    "generative/discrete/objectives/schedules.py",
    "generative/discrete/data/registry.py",
    "generative/discrete/data/patch_tokenizer.py",
    "generative/discrete/data/checker.py",
    "generative/discrete/data/shapes.py",
    "benchmarks/results/exp30_maskgit_steps_trace.json",
]
# one character per value: tokens 0..60 and steps 1..64 (stored as step - 1); "." = masked
ALPHABET = string.digits + string.ascii_letters + "+/"
MASK_CHAR = "."

# decode-scrub: class = 4 * shape + colour
PROMPTS = {0: "red square", 5: "green circle", 10: "blue triangle", 15: "yellow cross"}
DRAWS = 8
SCRUB_MASKGIT_T, SCRUB_MDLM_STEPS = (4, 8, 16), (8, 16, 64)
SCRUB_CHOICE_TEMPERATURE = 9.0  # the package default (decoders.CHOICE_TEMPERATURE, exp32)

# unmask-rounds: the grid, a batch per setting, the first SHOW rows kept as traces
ROUNDS_T, SCHEDULES, CHOICE_TEMPERATURES, CORRECTORS = (4, 8, 16), ("cosine", "linear", "sqrt"), (
    0.0, 4.5, 9.0), (0, 4)  # fmt: skip
BATCH, SHOW, CORRECTOR_K = 128, 4, 4  # SHOW rows: classes 0..3, the prompts of exp30's trace


def enc(values, offset: int = 0) -> str:
    """Ints (-1 = masked) -> a string, one character each."""
    return "".join(MASK_CHAR if v < 0 else ALPHABET[int(v) - offset] for v in values)


def setup():
    """The class-conditional `shapes` data and its exact oracle (mask id = vocab size)."""
    from generative.discrete.data.token_data import load_token_data
    from generative.discrete.oracle import Oracle

    data = load_token_data("shapes", "class", n_train=16, n_test=16)
    return data, Oracle.for_data(data)


def palette() -> list:
    from generative.discrete.data.shapes import PALETTE

    return PALETTE.tolist()


# region: ar-oracle
def ar_oracle(oracle, cond, n: int, seq_len: int, generator):
    """Exact autoregressive sampling: p(x_i | x_<i, c) is the oracle's posterior at position i
    with positions i.. masked; one call per token, raster order. Returns (tokens, call step)."""
    import torch

    from generative.discrete.objectives.categorical import sample_logits

    x = torch.full((n, seq_len), oracle.mask_id, dtype=torch.long)
    for i in range(seq_len):
        logits = oracle(x, cond)[:, i]  # (n, V): the next token's exact law
        x[:, i] = sample_logits(logits, 1.0, generator)
    return x, torch.arange(1, seq_len + 1).expand(n, -1)


# endregion


def record_calls(fn, log: list):
    """tokens_to_logits that remembers each canvas it was called on."""

    def call(x):
        log.append(x.clone())
        return fn(x)

    return call


def fixed_step(canvases, final, mask_id):
    """Call after which each position was first unmasked: canvases[k] is the input of call k + 1
    (so the state after k calls); final is the state after the last call."""
    import torch

    states = torch.stack(list(canvases[1:]) + [final])  # (K, B, N): after calls 1..K
    known = states != mask_id
    return known.float().argmax(0) + 1  # first call whose result shows the position


def bake_decode_scrub(data, oracle) -> dict:
    """The same prompts decoded by AR, MaskGIT and MDLM, DRAWS draws each."""
    import torch

    from generative.discrete.decoders import decode_masked
    from generative.discrete.objectives.mdlm import mdlm_sample

    N, mask_id = data.seq_len, oracle.mask_id
    cls = torch.tensor(list(PROMPTS)).repeat_interleave(DRAWS)  # (B,)
    cond, B = cls[:, None], len(cls)
    net = lambda x: oracle(x, cond)  # noqa: E731
    runs = {}
    g = torch.Generator().manual_seed(0)
    tokens, step = ar_oracle(oracle, cond, B, N, g)
    runs["ar"] = (tokens, step, N)
    for T in SCRUB_MASKGIT_T:
        g = torch.Generator().manual_seed(T)
        start = torch.full((B, N), mask_id, dtype=torch.long)
        res = decode_masked(start, net, mask_id, steps=T, generator=g,
                            choice_temperature=SCRUB_CHOICE_TEMPERATURE)  # fmt: skip
        runs[f"maskgit-{T}"] = (res.tokens, res.fixed_round, res.nfe)
    for steps in SCRUB_MDLM_STEPS:
        g, log = torch.Generator().manual_seed(100 + steps), []
        res = mdlm_sample(record_calls(net, log), B, N, mask_id, steps, generator=g)
        runs[f"mdlm-{steps}"] = (res.tokens, fixed_step(log, res.tokens, mask_id), res.nfe)
    out = {}
    for name, (tok, st, nfe) in runs.items():
        valid = data.score(tok)["valid"]
        out[name] = {
            "nfe": int(nfe),
            "valid_share": float(valid.mean()),
            "rows": [{"class": int(c), "tokens": enc(t), "step": enc(s.tolist(), offset=1),
                      "valid": bool(v)}
                     for c, t, s, v in zip(cls, tok.tolist(), st, valid, strict=True)],
        }  # fmt: skip
    return {"prompts": {str(k): v for k, v in PROMPTS.items()}, "draws": DRAWS,
            "maskgit_T": list(SCRUB_MASKGIT_T), "mdlm_steps": list(SCRUB_MDLM_STEPS),
            "choice_temperature": SCRUB_CHOICE_TEMPERATURE, "runs": out}  # fmt: skip


def settings_grid() -> list[dict]:
    return [{"T": T, "schedule": s, "choice_temperature": ct, "corrector": c}
            for T, s, ct, c in itertools.product(ROUNDS_T, SCHEDULES, CHOICE_TEMPERATURES,
                                                 CORRECTORS)]  # fmt: skip


def bake_setting(data, oracle, index: int, setting: dict) -> dict:
    """One MaskGIT setting on the oracle: BATCH samples (classes in turn), seed = its index."""
    import torch

    from generative.discrete.decoders import correct, decode_masked

    N, mask_id = data.seq_len, oracle.mask_id
    cond = (torch.arange(BATCH) % data.num_classes)[:, None]
    net = lambda x: oracle(x, cond)  # noqa: E731
    g = torch.Generator().manual_seed(1000 + index)
    start = torch.full((BATCH, N), mask_id, dtype=torch.long)
    res = decode_masked(start, net, mask_id, steps=setting["T"], schedule=setting["schedule"],
                        choice_temperature=setting["choice_temperature"], generator=g)  # fmt: skip
    decoded, fixes = res.tokens, []
    given = torch.zeros_like(start, dtype=torch.bool)
    for _ in range(setting["corrector"]):  # one call at a time, to keep each call's changes
        log = []
        res = correct(res, given, record_calls(net, log), mask_id, 1, CORRECTOR_K, generator=g)
        fixes.append(((log[0] == mask_id), res.tokens))
    valid = data.score(res.tokens)["valid"]
    rows = []
    for b in range(SHOW):
        row_fixes = [[[int(i), int(tok[b, i])] for i in m[b].nonzero()[:, 0]] for m, tok in fixes]
        rows.append({"class": int(cond[b, 0]), "tokens": enc(decoded[b].tolist()),
                     "round": enc(res.fixed_round[b].tolist(), offset=1), "fixes": row_fixes,
                     "valid": bool(valid[b])})  # fmt: skip
    return {**setting, "nfe": int(res.nfe), "valid_share": float(valid.mean()), "rows": rows}


def trained_traces() -> dict:
    """exp30's trace of the trained MaskGIT (one seed, its latest snapshot) in the same form."""
    if not EXP30_TRACE.is_file():
        return {}
    trace, lab = json.loads(EXP30_TRACE.read_text()), json.loads(EXP30.read_text())
    arm = lab["numbers"]["trained, class | fixed T=8"]
    out = {"note": lab["settings"]["trained"], "seeds": lab["settings"]["budget"]["seeds"],
           "trained_steps": arm["trained_steps_by_seed"][0],
           "budget_steps": lab["settings"]["budget"]["steps"], "settings": []}  # fmt: skip
    for key, t in trace["traces"].items():
        T, ct = key.split(", choice temperature ")
        parts = zip(trace["classes"], t["rounds"][-1], t["fixed_round"], t["valid"], strict=True)
        rows = [{"class": c, "tokens": enc(tok), "round": enc(fr, offset=1), "fixes": [],
                 "valid": bool(v)} for c, tok, fr, v in parts]  # fmt: skip
        setting = {"T": int(T[2:]), "schedule": "cosine", "choice_temperature": float(ct)}
        out["settings"].append({**setting, "corrector": 0, "nfe": t["nfe"], "rows": rows})
    return out


def bake_unmask_rounds(data, oracle, indices=None) -> dict:
    grid = settings_grid()
    chosen = range(len(grid)) if indices is None else indices
    return {
        "T": list(ROUNDS_T), "schedules": list(SCHEDULES),
        "choice_temperatures": list(CHOICE_TEMPERATURES), "correctors": list(CORRECTORS),
        "corrector_k": CORRECTOR_K, "batch": BATCH,
        "settings": [bake_setting(data, oracle, i, grid[i]) for i in chosen],
        "trained": trained_traces(),
    }  # fmt: skip


def made(name: str, body: dict) -> dict:
    hashes = {s: hashlib.sha256((ROOT / s).read_bytes()).hexdigest()[:16] for s in SOURCES}
    return {"name": name, "alphabet": ALPHABET, "mask_char": MASK_CHAR, "palette": palette(),
            "oracle": "decoded with the exact posterior in place of a network", **body,
            "sources": hashes}  # fmt: skip


def bake_all() -> dict[str, dict]:
    data, oracle = setup()
    return {
        "decode-scrub": made("decode-scrub", bake_decode_scrub(data, oracle)),
        "unmask-rounds": made("unmask-rounds", bake_unmask_rounds(data, oracle)),
    }


def dumps(body: dict) -> str:
    return json.dumps(body, separators=(",", ":")) + "\n"


def check(unmask_every: int = 1) -> list[str]:
    """Re-compute the baked files and list what differs (the sources' hashes are not compared:
    a comment edit changes a hash, not a trace). unmask_every > 1 re-computes every k-th
    setting of unmask-rounds only (the test's quick check)."""
    import torch

    torch.set_num_threads(1)
    data, oracle = setup()
    problems = []
    paths = {n: OUT / f"{n}.json" for n in ("decode-scrub", "unmask-rounds")}
    stored = {}
    for n, p in paths.items():
        if not p.is_file():
            return [f"{n}: not baked (python site/bake_partb.py)"]
        stored[n] = json.loads(p.read_text())
    fresh = made("decode-scrub", bake_decode_scrub(data, oracle))
    for key in fresh:
        if key != "sources" and fresh[key] != stored["decode-scrub"].get(key):
            problems.append(f"decode-scrub: '{key}' differs from a fresh bake")
    picks = list(range(0, len(settings_grid()), unmask_every))
    fresh = made("unmask-rounds", bake_unmask_rounds(data, oracle, picks))
    old = stored["unmask-rounds"]
    for key in fresh:
        if key == "settings":
            bad = [i for i, s in zip(picks, fresh[key], strict=True) if old[key][i] != s]
            problems += [f"unmask-rounds: setting {old[key][i] | {'rows': '...'}} differs"
                         for i in bad]  # fmt: skip
        elif key != "sources" and fresh[key] != old.get(key):
            problems.append(f"unmask-rounds: '{key}' differs from a fresh bake")
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--check", action="store_true", help="re-compute and compare; exit 1 if stale")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    if args.check:
        problems = check()
        for line in problems:
            print(f"stale: {line}")
        for name in ("decode-scrub", "unmask-rounds"):  # content is what counts; hashes inform
            path = OUT / f"{name}.json"
            old = json.loads(path.read_text()).get("sources", {}) if path.is_file() else {}
            moved = [s for s, h in made(name, {})["sources"].items() if old.get(s) != h]
            if moved and not problems:
                print(f"note: {name}: sources edited since the bake, traces unchanged: {moved}")
        print(f"checked in {time.perf_counter() - t0:.1f} s")
        return 1 if problems else 0
    import torch

    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, body in bake_all().items():
        path = OUT / f"{name}.json"
        path.write_text(dumps(body))
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.1f} KB")
    print(f"baked in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
