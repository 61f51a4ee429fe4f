"""`generative reflow RUN` and `generative distill RUN`: a flow-matching run made fast to sample
(one or two steps). Their flags come from ReflowConfig and DistillConfig."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from generative.cli.flags import add_flags, build, given
from generative.cli.paths import writable_folder
from generative.continuous.distill import DistillConfig
from generative.continuous.reflow import ReflowConfig

ABOUT = {
    "reflow": (
        ReflowConfig,
        "rectified flow's second rectification: sample (noise, sample) pairs from a trained run, "
        "then retrain on the straight lines between them",
    ),
    "distill": (
        DistillConfig,
        "consistency distillation: a student that jumps the teacher's N-step path in one or two "
        "steps (sample it with --sampler euler --steps 1)",
    ),
}


def add(sub):
    for name, (cls, what) in ABOUT.items():
        p = sub.add_parser(name, help=what.split(":")[0], description=f"{name}: {what}.")
        p.add_argument("run_dir", help="the teacher: a flow-matching run folder")
        p.add_argument("--out", required=True, help="the new run folder")
        p.add_argument("--resume", action="store_true", help="continue the run in --out")
        flags, _ = add_flags(p, [cls], lambda owners: "options")
        p.set_defaults(func=run_command, flags=flags, cls=cls, name=name)


def run_command(a):
    from generative.cli.cmd_info import saved_config

    saved_config(a.run_dir)  # refuses a folder that is not a run, naming the fix
    opts = build(a.cls, given(a, a.flags), a.flags, a.name)
    out = writable_folder(a.out, "--out")
    if a.name == "reflow":
        from generative.continuous.reflow import reflow as make
    else:
        from generative.continuous.distill import distill as make
    run = make(a.run_dir, out, **dataclasses.asdict(opts), resume=a.resume)
    if not run.main:
        return
    print(f"trained {run.state['step']} steps in {run.state['wall_s']:.1f}s -> {out}")
    info = Path(out) / "reflow.json"
    if a.name == "reflow" and info.exists():
        print(f"pairs: {json.loads(info.read_text()).get('pairs_cpu_s', float('nan')):.1f} CPU-s")
    print(f"sample with: generative sample {out} --sampler euler --steps 1 --out s.npy")
