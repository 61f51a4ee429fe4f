"""`generative demo`: the four Part A models on two moons -> a figure and the metrics table."""

from __future__ import annotations

from dataclasses import dataclass

from generative.cli.flags import add_flags, build, given
from generative.cli.paths import writable_folder
from generative.config import option


@dataclass
class DemoArgs:
    out: str = option("demo_out", "output folder (its runs/ are retrained from scratch)")
    steps: int | None = option(
        None, "every model's training steps", ge=1, auto_text="each model's own"
    )
    seeds: int = option(5, "evaluation seeds", ge=1)


def add(sub):
    p = sub.add_parser(
        "demo",
        help="the four models on moons -> figure + table",
        description="Train {DDPM, FM} x {MLP, DiT} on two moons, two at a time, "
        "then write a 2x2 figure and the metrics table (terminal and Markdown).",
    )
    flags, _ = add_flags(p, [DemoArgs], lambda owners: "options")
    p.set_defaults(func=cmd_demo, flags=flags)


def cmd_demo(a):
    from generative.continuous.demo import run_demo

    opts = build(DemoArgs, given(a, a.flags), a.flags, "demo")
    run_demo(writable_folder(opts.out, "--out"), opts.steps, opts.seeds)
