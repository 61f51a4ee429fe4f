"""The baked models of the course site: the manifest is fresh; the browser's MLP forward pass and
samplers (site/widgets/lib/mlp.js, samplers.js) agree with the package's torch code on fixed
inputs and the same noise, to 1e-5; the model widgets respond to their knobs as they should.
"""

from __future__ import annotations

import base64
import copy
import json

import numpy as np
import pytest
import torch
from browser_harness import load_site_module

from generative.continuous.diffusion import DDPM
from generative.continuous.flow_matching import solve_ode
from generative.continuous.mlp import MLP
from generative.continuous.sampling import guided

bake = load_site_module("bake")
LIGHT_PAGE = "index.html"  # no widgets: the parity tests only import the JS modules into it
MODELS_PAGE = "97-models.html"  # the fixture lesson that mounts every model widget
TOL = {"atol": 1e-5, "rtol": 1e-5}


# -- the manifest ----------------------------------------------------------------------------


def test_every_baked_file_is_fresh():
    problems = bake.stale()
    assert not problems, "stale baked files (re-run `python site/bake.py`):\n" + "\n".join(problems)


def test_staleness_check_catches_edits_to_sources_files_and_settings():
    manifest = bake.read_manifest()
    assert bake.stale(manifest) == []
    edited = copy.deepcopy(manifest)
    edited["fm"]["sources"]["generative/continuous/mlp.py"] = "0" * 64  # the code changed since
    edited["moons"]["sha256"] = "0" * 64  # the baked file was edited by hand
    edited["fm-cond"]["settings"]["cond"] = False  # bake.py now asks for something else
    del edited["dit-samples"]
    problems = bake.stale(edited)
    assert any(p.startswith("fm: sources changed: generative/continuous/mlp.py") for p in problems)
    assert any(p.startswith("moons: ") and "differs" in p for p in problems)
    assert "fm-cond: settings changed" in problems
    assert "dit-samples: not baked" in problems
    assert len(problems) == 4


def test_baked_files_are_small_and_record_their_sources():
    manifest = bake.read_manifest()
    assert set(manifest) == set(bake.jobs())
    for name, entry in manifest.items():
        path = bake.OUT / entry["file"]
        assert path.stat().st_size < 300_000, f"{name} is {path.stat().st_size} bytes"
        assert "site/bake.py" in entry["sources"]


# -- parity with torch -----------------------------------------------------------------------


def torch_mlp(name: str) -> tuple[MLP, dict]:
    """The baked file's network rebuilt in torch from the very bytes the browser decodes."""
    baked = json.loads((bake.OUT / f"{name}.json").read_text())
    net = MLP((2,), baked["width"], baked["depth"], baked["num_classes"], baked["t_scale"])
    tensors = {
        k: torch.from_numpy(
            np.frombuffer(base64.b64decode(v["b64"]), "<f4").reshape(v["shape"]).copy()
        )
        for k, v in baked["tensors"].items()
    }
    net.load_state_dict(tensors)
    return net.eval(), baked


def js(probe, body: str, arg):
    """Run `body` in the page with the site's mlp.js and samplers.js imported as M and S."""
    return probe.page.evaluate(
        f"""async (arg) => {{
            const M = await import('/widgets/lib/mlp.js');
            const S = await import('/widgets/lib/samplers.js');
            const Sch = await import('/widgets/lib/schedules.js');
            const reader = (flat) => {{ let i = 0; return (buf) => {{
                for (let j = 0; j < buf.length; j++) buf[j] = flat[i++]; }}; }};
            {body}
        }}""",
        arg,
    )


def points(n: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)) * scale


def as_rows(flat) -> torch.Tensor:
    return torch.tensor(flat, dtype=torch.float64).view(-1, 2)


@pytest.mark.parametrize(
    "name", ["fm", "fm-cond", "ddpm-linear-eps-t1", "ddpm-cosine-v-t1000", "ddpm-linear-x0-t1000"]
)
@pytest.mark.parametrize("kernels", ["relaxed-simd", "simd"])
def test_js_mlp_forward_matches_torch(open_page, name, kernels):
    probe = open_page(LIGHT_PAGE)
    net, baked = torch_mlp(name)
    x = points(151, 0, 1.5)  # odd, and more than two 64-row tiles of the fast path
    cases = [(t, None) for t in (0.0, 0.013, 0.5, 0.999, 1.0)]
    if baked["num_classes"]:
        cases += [(0.3, 0), (0.7, 1), (0.5, baked["num_classes"])]  # the last: the null label
    got = js(
        probe,
        """const net = new M.MLP(await M.loadBaked(arg.name), {kernels: arg.kernels});
        const x = Float64Array.from(arg.x);
        return {kernels: net.kernels, out: arg.cases.map(([t, y]) => [
            Array.from(net.forward(x, arg.n, t, y)),
            Array.from(net.forwardReference(x, arg.n, t, y))])};""",
        {"name": name, "x": x.flatten().tolist(), "n": len(x), "cases": cases, "kernels": kernels},
    )
    assert got["kernels"] == kernels, f"Chromium has no WebAssembly {kernels}"
    with torch.no_grad():
        for (t, y), (fast, reference) in zip(cases, got["out"], strict=True):
            labels = None if y is None else torch.full((len(x),), y)
            want = net(x, torch.full((len(x),), t), labels).double()
            torch.testing.assert_close(as_rows(fast), want, **TOL, msg=f"fast, t={t}, y={y}")
            torch.testing.assert_close(as_rows(reference), want, **TOL, msg=f"ref, t={t}, y={y}")


@pytest.mark.parametrize("method", ["euler", "midpoint", "heun", "rk4"])
def test_js_ode_solvers_match_torch(open_page, method):
    probe = open_page(LIGHT_PAGE)
    net, _ = torch_mlp("fm")
    x = points(50, 1)
    with torch.no_grad():
        want, nfe = solve_ode(net, x.clone(), 6, method)
    got = js(
        probe,
        """const net = new M.MLP(await M.loadBaked("fm"));
        const x = Float64Array.from(arg.x);
        const nfe = S.solveODE(S.guided(net), x, arg.n, 6, arg.method);
        return {x: Array.from(x), nfe};""",
        {"x": x.flatten().tolist(), "n": len(x), "method": method},
    )
    assert got["nfe"] == nfe
    torch.testing.assert_close(as_rows(got["x"]), want.double(), **TOL)


def test_js_classifier_free_guidance_matches_torch(open_page):
    probe = open_page(LIGHT_PAGE)
    net, _ = torch_mlp("fm-cond")
    x = points(40, 2)
    for label, scale in ((0, 3.0), (1, 0.0), (1, 1.0)):
        with torch.no_grad():
            f = guided(net, torch.full((len(x),), label), scale)
            want, _ = solve_ode(f, x.clone(), 4, "rk4")
        got = js(
            probe,
            """const net = new M.MLP(await M.loadBaked("fm-cond"));
            const x = Float64Array.from(arg.x);
            S.solveODE(S.guided(net, arg.label, arg.scale), x, arg.n, 4, "rk4");
            return Array.from(x);""",
            {"x": x.flatten().tolist(), "n": len(x), "label": label, "scale": scale},
        )
        torch.testing.assert_close(as_rows(got), want.double(), **TOL, msg=f"{label} {scale}")


def ddpm_case(name: str, sampler: str, steps: int, variance="beta", eta=0.0, n=24):
    """Torch's sample for a baked DDPM model, and the exact normal draws it consumed (in order)."""
    net, baked = torch_mlp(name)
    m = baked["method"]
    ddpm = DDPM(m["schedule"], m["T"], m["target"])
    x = points(n, 3)
    seed = 11
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        if sampler == "ancestral":
            want, nfe = ddpm.sample_ancestral(net, x.clone(), steps, variance, g)
        else:
            want, nfe = ddpm.sample_ddim(net, x.clone(), steps, eta, None, g)
    draws = (nfe - 1) if (sampler == "ancestral" or eta > 0) else 0
    g = torch.Generator().manual_seed(seed)  # the same stream again: the draws torch consumed
    noise = [torch.randn((n, 2), generator=g) for _ in range(draws)]
    flat = torch.cat([z.flatten() for z in noise]).tolist() if noise else []
    return x, want, nfe, flat, m


@pytest.mark.parametrize(
    "name, sampler, steps, variance, eta",
    [
        ("ddpm-linear-eps-t1000", "ancestral", 1000, "beta", 0.0),
        ("ddpm-linear-eps-t1000", "ancestral", 10, "beta_tilde", 0.0),
        ("ddpm-cosine-x0-t1000", "ancestral", 25, "beta", 0.0),
        ("ddpm-linear-v-t1", "ancestral", 7, "beta_tilde", 0.0),
        ("ddpm-linear-eps-t1000", "ddim", 50, "beta", 0.0),
        ("ddpm-cosine-v-t1000", "ddim", 20, "beta", 1.0),
        ("ddpm-cosine-x0-t1", "ddim", 1, "beta", 0.0),
    ],
)
def test_js_ddpm_samplers_match_torch(open_page, name, sampler, steps, variance, eta):
    probe = open_page(LIGHT_PAGE)
    x, want, nfe, noise, m = ddpm_case(name, sampler, steps, variance, eta)
    got = js(
        probe,
        """const net = new M.MLP(await M.loadBaked(arg.name));
        const x = Float64Array.from(arg.x);
        const opts = {alphasCumprod: Sch.ddpmCoefficients(arg.schedule, arg.T).alphas_cumprod,
            target: arg.target, steps: arg.steps, variance: arg.variance, eta: arg.eta,
            normal: reader(arg.noise)};
        const run = arg.sampler === "ancestral" ? S.ancestral : S.ddim;
        const nfe = run(S.guided(net), x, arg.n, opts);
        return {x: Array.from(x), nfe};""",
        {
            "name": name,
            "x": x.flatten().tolist(),
            "n": len(x),
            "schedule": m["schedule"],
            "T": m["T"],
            "target": m["target"],
            "steps": steps,
            "variance": variance,
            "eta": eta,
            "noise": noise,
            "sampler": sampler,
        },
    )
    assert got["nfe"] == nfe
    torch.testing.assert_close(as_rows(got["x"]), want.double(), **TOL)


# -- the widgets -----------------------------------------------------------------------------


def widget(probe, name):
    return probe.page.locator(f'.widget[data-widget="{name}"]')


def test_reverse_chain_widget(open_page):
    probe = open_page(MODELS_PAGE)
    w = widget(probe, "reverse-chain")
    start = probe.set_knob(w, "progress", 0)
    assert start["k"] == 999 and start["rms"] > 0.9  # the chain starts from N(0, I) at k = T - 1
    done = probe.set_knob(w, "progress", 1)
    assert done["k"] == -1 and done["nfe"] == done["steps"] == 100
    beta10 = probe.set_knob(w, "steps", 10)
    tilde10 = probe.set_knob(w, "variance", "beta_tilde")
    assert (tilde10["variance"], tilde10["nfe"]) == ("beta_tilde", 10)
    # on a short chain each kept step spans a long jump: its effective beta is large, and
    # sigma^2 = beta-tilde (smaller) leaves fewer samples off the moons than sigma^2 = beta
    assert tilde10["off_data"] < beta10["off_data"] - 0.05
    failure = probe.failure(w)
    assert (failure["variance"], failure["steps"], failure["nfe"]) == ("beta", 5, 5)
    assert failure["off_data"] > done["off_data"] + 0.2  # 5 steps: far off the moons
    assert probe.errors == []


def test_velocity_field_widget(open_page):
    probe = open_page(MODELS_PAGE)
    w = widget(probe, "velocity-field")
    probe.set_knob(w, "n_data", 1000)
    mid = probe.set_knob(w, "t", 0.3)
    failure = probe.failure(w)
    assert (failure["n_data"], failure["t"]) == (8, 0.97)
    # away from t = 1 the exact field of 1000 points and the network agree far better than the
    # exact field of 8 points near t = 1, whose speeds blow up like 1 / (1 - t)
    assert failure["mean_gap"] > 3 * mid["mean_gap"]
    assert failure["max_speed_exact"] > 5 * mid["max_speed_exact"]
    assert probe.errors == []


def test_solver_steps_widget(open_page):
    probe = open_page(MODELS_PAGE)
    w = widget(probe, "solver-steps")
    per_step = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}
    probe.set_knob(w, "steps", 8)
    gaps = {}
    for solver, k in per_step.items():
        state = probe.set_knob(w, "solver", solver)
        assert state["nfe"] == 8 * k and state["n"] == 2000
        gaps[solver] = state["gap_to_fine"]
    assert gaps["rk4"] < gaps["euler"]  # same steps, higher order: closer to the fine solve
    failure = probe.failure(w)
    assert (failure["solver"], failure["steps"], failure["nfe"]) == ("euler", 1, 1)
    assert failure["gap_to_fine"] > gaps["euler"] and failure["off_data"] > 0.2
    assert probe.errors == []


def test_knob_board_widget(open_page):
    probe = open_page(MODELS_PAGE)
    w = widget(probe, "knob-board")
    for knob, value in (("schedule", "cosine"), ("target", "v"), ("t_scale", "1")):
        state = probe.set_knob(w, knob, value)
    assert state["model"] == "ddpm-cosine-v-t1"
    assert probe.set_knob(w, "sampler", "ddim")["nfe"] == 32
    probe.set_knob(w, "label", "1")
    free = probe.set_knob(w, "guidance", 0)  # the unconditional model: both moons
    pushed = probe.set_knob(w, "guidance", 4)
    assert pushed["guided_on_label"] > 0.95 > free["guided_on_label"]
    probe.set_knob(w, "sampler", "ancestral")
    sound = probe.set_knob(w, "target", "eps")  # cosine, eps, t_scale 1, the chain
    failure = probe.failure(w)  # cosine + eps + DDIM: x0-hat at alpha-bar 2e-9 blows up
    assert (failure["model"], failure["sampler"]) == ("ddpm-cosine-eps-t1000", "ddim")
    assert failure["off_data"] > 0.5 > 0.2 > sound["off_data"]
    assert probe.errors == []


def test_dit_samples_widget(open_page):
    probe = open_page(MODELS_PAGE)
    w = widget(probe, "dit-samples")
    baked = json.loads((bake.OUT / "dit-samples.json").read_text())
    cells = {(g["snapshot"], g["sampler"], str(g["steps"])): g for g in baked["grid"]}
    for snap in baked["snapshots"][::2]:
        for sampler in baked["samplers"]:
            probe.set_knob(w, "snapshot", snap)
            state = probe.set_knob(w, "sampler", sampler)
            cell = cells[(snap, sampler, state["steps"])]
            assert state["off_data"] == pytest.approx(cell["off_data"], abs=1e-6)
    ancestral = probe.set_knob(w, "sampler", "ancestral")
    failure = probe.failure(w)  # DDIM, same network: a few tail points run far away
    assert (failure["sampler"], failure["snapshot"]) == ("ddim", baked["snapshots"][-1])
    assert failure["max_norm"] > 10 * ancestral["max_norm"]
    assert probe.errors == []
