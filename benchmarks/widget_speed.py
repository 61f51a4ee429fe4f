"""How long a model widget takes to redraw in the browser: the `solver-steps` widget set to RK4 x 8
steps (32 network evaluations) on 2000 points through the baked width-32 MLP, timed inside
headless Chromium around the knob's input event (sampling, scoring, trajectories and drawing).
Also times the sampling alone on the WebAssembly SIMD path and on the plain-JS reference path.

    python -m benchmarks.widget_speed [--repeats 30]

Prints medians with the 10th and 90th percentiles, and the machine: core count and load average,
since a shared machine makes every wall time pessimistic. It also prints the CPU time the browser's
processes spent per redraw (read from /proc, all descendants of this process): on a loaded machine
that is the better guess of what an idle core would take. No timed test asserts on it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the browser harness: build, serve, Chromium flags

from browser_harness import CHROMIUM, CHROMIUM_FLAGS, load_site_module  # noqa: E402

LESSON = """---
title: Benchmark page
summary: One widget, timed.
---

{{ widget("solver-steps") }}
"""

# In the page: set RK4 x 8, then time `repeats` redraws (the input event redraws synchronously).
REDRAW = """async (repeats) => {
    const w = document.querySelector('.widget[data-widget="solver-steps"]');
    const set = (name, v) => { const el = w.querySelector(`[data-knob="${name}"]`); el.value = v;
        el.dispatchEvent(new Event('input', {bubbles: true})); };
    set('solver', 'rk4'); set('steps', 8);
    const times = [];
    for (let i = 0; i < repeats; i++) {
        const t0 = performance.now();
        set('steps', 8);
        times.push(performance.now() - t0);
        await new Promise(r => setTimeout(r, 0));  // let the page paint between redraws
    }
    return {times, state: JSON.parse(w.dataset.state)};
}"""

# Sampling alone: 2000 points, RK4 x 8, on the fast path and on the reference path.
SAMPLING = """async ([repeats, path]) => {
    const M = await import('/widgets/lib/mlp.js');
    const S = await import('/widgets/lib/samplers.js');
    const net = new M.MLP(await M.loadBaked('fm'));
    const f = path === 'fast' ? S.guided(net)
        : (x, n, t, out) => net.forwardReference(x, n, t, null, out);
    const x0 = Float64Array.from({length: 4000}, (_, i) => Math.sin(i * 12.9898) * 1.5);
    const times = [];
    for (let i = 0; i < repeats; i++) {
        const x = x0.slice();
        const t0 = performance.now();
        S.solveODE(f, x, 2000, 8, 'rk4');
        times.push(performance.now() - t0);
    }
    return {times, fast: path === 'fast' ? net.kernels : null};
}"""


def summary(times: list[float]) -> str:
    q = statistics.quantiles(times, n=10) if len(times) >= 2 else [times[0]] * 9
    med = statistics.median(times)
    return f"median {med:6.1f} ms  (p10 {q[0]:.1f}, p90 {q[-1]:.1f}, n={len(times)})"


def tree_cpu_seconds(root: int) -> float:
    """user + system CPU seconds of every live descendant of process `root` (Linux /proc)."""
    parent, cpu = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parent[int(d.name)] = int(fields[1])  # ppid
        cpu[int(d.name)] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    total = 0.0
    for pid in cpu:
        p = parent.get(pid)
        while p not in (None, 0, 1, root):
            p = parent.get(p)
        total += cpu[pid] if p == root else 0.0
    return total


def machine() -> str:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, load average {load} (1, 5, 15 min)"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=30, help="timed redraws (after 3 warm-ups)")
    args = p.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"needs {CHROMIUM} (apt-get install chromium)")
        return 2
    from playwright.sync_api import sync_playwright

    build, serve = load_site_module("build"), load_site_module("serve")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "lessons", Path(tmp) / "site"
        src.mkdir()
        (src / "01-bench.md").write_text(LESSON)
        build.build([src], out)
        server = serve.start(out, 0)
        url = f"http://127.0.0.1:{server.server_address[1]}/01-bench.html"
        print(f"machine: {machine()}")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url)
            page.wait_for_function(
                "document.querySelector('.widget').dataset.mounted === 'true'", timeout=120000
            )
            print(f"chromium {browser.version}")
            page.evaluate(REDRAW, 3)  # warm-up: JIT, kernel compile
            cpu0 = tree_cpu_seconds(os.getpid())
            redraw = page.evaluate(REDRAW, args.repeats)
            cpu_ms = 1000 * (tree_cpu_seconds(os.getpid()) - cpu0) / args.repeats
            state = redraw["state"]
            assert (state["solver"], state["nfe"], state["n"]) == ("rk4", 32, 2000), state
            cpu0 = tree_cpu_seconds(os.getpid())
            fast = page.evaluate(SAMPLING, [args.repeats, "fast"])
            fast_cpu_ms = 1000 * (tree_cpu_seconds(os.getpid()) - cpu0) / args.repeats
            ref = page.evaluate(SAMPLING, [max(3, args.repeats // 6), "reference"])
            browser.close()
        server.shutdown()
    print(f"machine after: {machine()}")
    print(f"solver-steps redraw, 2000 points, RK4 x 8 = 32 NFE:  {summary(redraw['times'])}")
    print(f"  browser CPU time per redraw (all its processes):  {cpu_ms:6.1f} ms")
    simd = f"WebAssembly {fast['fast']}" if fast["fast"] else "NO SIMD: reference fallback"
    print(f"  sampling only, {simd} path:          {summary(fast['times'])}")
    print(f"  browser CPU time per sampling-only run:           {fast_cpu_ms:6.1f} ms")
    print(f"  sampling only, plain-JS float64 reference:  {summary(ref['times'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
