"""Run the claims lab: every experiment, a --group of them, or --only some; --quick checks the
pipeline in minutes.

python -m benchmarks.run_all --group parta   # make bench: lessons 01-09's 2D claims (exp01-10)
python -m benchmarks.run_all                 # everything: Part A, images, Part B
python -m benchmarks.run_all --quick         # tiny budgets, results/quick/, numbers meaningless
python -m benchmarks.run_all --only exp02_steps_vs_quality
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import time

from benchmarks import lab
from benchmarks.image_lab import JUDGES
from benchmarks.lab import CACHE, FULL, QUICK, RESULTS, ROOT, cache_dir
from generative.continuous import metrics

# in run order: exp02 trains the default runs with EMA snapshots, which the others reuse
EXPERIMENTS = [
    "exp02_steps_vs_quality",
    "exp01_standardization",
    "exp03_short_chain",
    "exp04_targets_schedules",
    "exp05_t_scale",
    "exp06_guidance",
    "exp07_mlp_vs_dit",
    "exp08_memorization",
    "exp09_peers",
    "exp10_training_cost",
    "exp11_image_guidance",
    "exp12_adaln_zero",
    "exp13_images_mlp_vs_dit",
    "exp20_codebook_collapse",
    "exp21_straight_through",
    "exp22_image_tokenizers",
    "exp23_quantizer_peers",
    # Part B generation: exp30 trains the shared MaskGIT and AR runs (with snapshots)
    "exp30_maskgit_steps",
    "exp31_mask_schedule",
    "exp32_choice_temperature",
    "exp33_training_cost",
    "exp34_d3pm_kernels",
    "exp35_maskgit_failures",
    "partb_targets",
    # few-step sampling (issue 21): OT-CFM, reflow, consistency distillation; DDPM + MLP's budget
    "exp14_few_step",
    "exp15_ddpm_mlp_budget",
]
# what each make target runs (`make bench` is the Part A lab, the 30-minute budget)
GROUPS = {
    "parta": EXPERIMENTS[:10],
    "images": EXPERIMENTS[10:13],
    "tokenizers": EXPERIMENTS[13:17],
    "generation": EXPERIMENTS[17:24],
    "fewstep": EXPERIMENTS[24:],
    "all": EXPERIMENTS,
}


def write_index():
    """benchmarks/README.md: one row per experiment, read from results/*.json."""
    rows = ["| experiment | claim | measured | verdict | wall s |", "|---|---|---|---|---|"]
    walls = {}
    for name in sorted(EXPERIMENTS):
        path = RESULTS / f"{name}.json"
        if not path.exists():
            rows.append(f"| {name} | (not run yet) | | | |")
            continue
        r = json.loads(path.read_text())
        walls[name] = r["wall_s"]
        rows.append(
            f"| [{name}](results/{name}.json) | {r['claim']} | {r['measured']} | "
            f"**{r['verdict']}** | {r['wall_s']:.0f} |"
        )
    noise = RESULTS / "metric_noise.json"
    if noise.exists():  # the 2D metric's own noise (benchmarks/metric_noise.py)
        r = json.loads(noise.read_text())["result"]
        gaps = [g for g in r["D"] if isinstance(r["D"][g], dict)]
        rows.append(
            "\n2D metric noise ([metric_noise](results/metric_noise.json)): a perfect sampler's "
            "95% band over the gap to a flawed sampler (lower resolves better): "
            + "; ".join(
                f"{g}: W2/floor {r['w2_ratio'][g]['relative_width']:.2f}, "
                f"D {r['D'][g]['relative_width']:.2f}"
                for g in gaps
            )
            + "."
        )
    parta = sum(walls.get(n, 0.0) for n in GROUPS["parta"])
    rows.append(f"\n`make bench` (exp01-10) last took {parta / 60:.1f} minutes of experiment time.")
    text = (ROOT / "README.head.md").read_text() + "\n" + "\n".join(rows) + "\n"
    (ROOT / "README.md").write_text(text)


def from_scratch_folders(names: list[str], quick: bool) -> list:
    """What a from-scratch run clears, so that every number comes from that invocation: the
    quick cache whole; otherwise only the selected groups' runs (and the image judges)."""
    if quick:
        return [CACHE / "quick"]
    out = [cache_dir(False)] if set(names) & set(GROUPS["parta"]) else []
    if set(names) & set(GROUPS["images"]):
        out += [cache_dir(False, images=True), JUDGES]  # the image metric's classifiers too
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny budgets (CI): pipeline only")
    ap.add_argument("--only", nargs="+", choices=EXPERIMENTS, help="run just these")
    ap.add_argument("--group", choices=GROUPS, default="all", help="run one group (default: all)")
    ap.add_argument("--keep-cache", action="store_true", help="reuse trained runs from last time")
    a = ap.parse_args()
    budget = QUICK if a.quick else FULL
    if a.quick:
        lab.WORKERS = 1
    names = a.only or GROUPS[a.group]
    for folder in [] if a.keep_cache else from_scratch_folders(names, a.quick):
        shutil.rmtree(folder, ignore_errors=True)
    # the floors (exact OT of true data against true data) are shared by every arm: keep each
    # once, beside the 2D runs (workers inherit the environment)
    os.environ[metrics.FLOOR_CACHE_ENV] = str(cache_dir(a.quick) / "floors")
    t0 = time.perf_counter()
    for name in names:
        print(f"{name} ...", flush=True)
        importlib.import_module(f"benchmarks.{name}").run(budget)
    lab.close_pool()
    if not a.quick:
        write_index()
    print(f"claims lab finished in {time.perf_counter() - t0:.0f}s; {lab.pool_line()}")


if __name__ == "__main__":
    main()
