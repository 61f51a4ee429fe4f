"""Peers on the same protocol and data, side by side in one process: torchcfm's I-CFM and OT-CFM
objectives training our MLP; Meta's flow_matching ODE solver integrating our FM net; diffusers'
DDPM and DDIM schedulers driving our DDPM net. Quality, NFE and wall time as ratios to ours.

The peers are an optional install (`make peers`, the `bench` extra): they are pinned and installed
with --no-deps so that none of them can move torch."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.lab import Result, ensure_runs, median, paired, pmap, run_path, score

NAME = "exp09_peers"
CLAIM = (
    "Our flow matching and DDPM code matches the field's libraries on the same data and protocol: "
    "torchcfm's objectives train nets no better than ours, Meta's flow_matching solver and "
    "diffusers' schedulers reproduce our samplers' samples, at comparable wall time (lesson 09)"
)
OBJECTIVES = ("I-CFM", "OT-CFM")  # torchcfm, sigma = 0: the same linear path as ours
# peer sampler -> (method of the run it drives, our counterpart (sampler, steps)); the 1000-step
# chains get one training seed and one eval seed: they match our samples draw for draw (max
# |diff| ~1e-3); exp02 has our sigma^2 = beta x1000 chain at 3 x 5 seeds; 3 x 5 here: ~3 min more
PAIRS = {
    "flow_matching euler x16": ("fm", ("euler", 16)),
    "flow_matching midpoint x8": ("fm", ("midpoint", 8)),
    "flow_matching rk4 x4": ("fm", ("rk4", 4)),
    "flow_matching dopri5 (tol 1e-5)": ("fm", ("rk4", 4)),
    "diffusers DDIM x50 (trailing)": ("ddpm", ("ddim", 50)),
    "diffusers DDIM x50 (leading)": ("ddpm", ("ddim", 50)),
    "diffusers DDPM x1000 (fixed_large)": ("ddpm", ("ancestral", 1000)),
    "diffusers DDPM x1000 (fixed_small)": ("ddpm", ("ancestral", 1000)),
}
LONG = ("x1000",)  # pairs scored on one training seed and one evaluation seed only


class TorchCFM:
    """torchcfm's conditional flow matcher as a training objective for our train loop."""

    def __init__(self, kind: str):
        from torchcfm.conditional_flow_matching import (
            ConditionalFlowMatcher,
            ExactOptimalTransportConditionalFlowMatcher,
        )

        cls = {
            "I-CFM": ConditionalFlowMatcher,
            "OT-CFM": ExactOptimalTransportConditionalFlowMatcher,
        }
        self.fm = cls[kind](sigma=0.0)

    def loss(self, net, x1, y=None, generator=None):
        import torch

        x0 = torch.randn(x1.shape, generator=generator)
        t = torch.rand(x1.shape[0], generator=generator)
        t, x_t, u_t = self.fm.sample_location_and_conditional_flow(x0, x1, t=t)
        return (net(x_t, t, y) - u_t).pow(2).mean()


def _train_peer(job):
    cfg, path, kind = job
    from generative.continuous.train_denoiser import train

    np.random.seed(cfg.seed)  # torchcfm draws its OT pairs with numpy's global generator
    if not (path / "state.json").exists():
        train(cfg, path, progress=False, method=TorchCFM(kind))
    return path


def _peer_draw(name, run, x, g):
    """The peer's sampler from initial noise x, sharing our generator g for later noise."""
    import torch

    nfe = [0]

    def net(x_, t_):  # t_: a float or a 0-d tensor in the peer's convention
        nfe[0] += 1
        return run.net(x_, torch.as_tensor(t_, dtype=torch.float32).expand(x_.shape[0]))

    with torch.no_grad():
        if name.startswith("flow_matching"):
            from flow_matching.solver import ODESolver
            from flow_matching.utils import ModelWrapper

            class Velocity(ModelWrapper):
                def forward(self, x, t, **extras):
                    return net(x, t)

            solver = ODESolver(velocity_model=Velocity(run.net))
            if "dopri5" in name:
                x = solver.sample(x, None, "dopri5", atol=1e-5, rtol=1e-5)
            else:
                method, steps = name.split()[1], int(name.split("x")[-1])
                x = solver.sample(x, 1.0 / steps, method)
        else:
            from diffusers import DDIMScheduler, DDPMScheduler

            common = dict(
                num_train_timesteps=run.method.T,
                beta_start=1e-4,
                beta_end=0.02,
                beta_schedule="linear",
                clip_sample=False,
                prediction_type="epsilon",
            )
            if "DDIM" in name:
                spacing = name.split("(")[1].rstrip(")")
                s = DDIMScheduler(**common, set_alpha_to_one=True, timestep_spacing=spacing)
                s.set_timesteps(50)
            else:
                s = DDPMScheduler(**common, variance_type=name.split("(")[1].rstrip(")"))
                s.set_timesteps(1000)
            for k in s.timesteps:
                eps = net(x, int(k) / run.method.T)  # our nets see t = k / T
                x = s.step(eps, k, x, generator=g).prev_sample
    return x, nfe[0]


def _step_cost(quick: bool) -> dict:
    """Median seconds per training step (loss, backward, AdamW) of each objective, in blocks of
    steps interleaved in this one process, on the default FM + MLP and moons batches."""
    import torch

    from generative.continuous.data import load_dataset
    from generative.continuous.flow_matching import FlowMatching
    from generative.continuous.train_denoiser import TrainConfig, build_model, resolved

    torch.set_num_threads(1)
    cfg = resolved(TrainConfig(method="fm"))  # the default steps and learning rate filled in
    block = 3 if quick else 25  # steps per timed block
    split = load_dataset(cfg.data, cfg.n_train, 0, cfg.noise)
    x = torch.from_numpy(split.standardizer.encode(split.train.x))
    objectives = {"ours (CFM)": FlowMatching("linear")}
    objectives.update({f"torchcfm {k}": TorchCFM(k) for k in OBJECTIVES})
    nets = {k: build_model(cfg, (2,), 0) for k in objectives}
    opts = {k: torch.optim.AdamW(n.parameters(), lr=cfg.lr) for k, n in nets.items()}
    g = torch.Generator().manual_seed(0)
    times = {k: [] for k in objectives}
    for _ in range(2 if quick else 12):  # repeats; the first block of each is a warm-up
        for k, obj in objectives.items():
            t0 = time.perf_counter()
            for _ in range(block):
                batch = x[torch.randint(0, len(x), (cfg.batch_size,), generator=g)]
                loss = obj.loss(nets[k], batch, None, generator=g)
                opts[k].zero_grad(set_to_none=True)
                loss.backward()
                opts[k].step()
            times[k].append((time.perf_counter() - t0) / block)
    return {k: median(v[1:]) for k, v in times.items()}


def _pair(job) -> dict:
    """Ours and the peer on the same noise for each evaluation seed: both scored, both timed."""
    import torch

    from generative.continuous.metrics import Reference, evaluate
    from generative.continuous.sampling import sample
    from generative.continuous.train_denoiser import load_run

    run = load_run(job["run"])
    ref = Reference.for_run(run.cfg, n=job["n"])
    sampler, steps = PAIRS[job["pair"]][1]
    variance = "beta_tilde" if "fixed_small" in job["pair"] else "beta"
    out = {"ours": {}, "peer": {}}

    def ours(seed, n=ref.n):
        t0 = time.perf_counter()
        res = sample(
            run.method, run.net, run.shape, n, sampler, steps, seed=seed, variance=variance
        )
        out["ours"].setdefault("wall", []).append(time.perf_counter() - t0)
        out["ours"]["nfe"] = res.nfe
        out["ours"].setdefault("x", []).append(res.x)
        return res.x.numpy()

    def peer(seed, n=ref.n):
        g = torch.Generator().manual_seed(seed)  # the same noise stream as sample(seed=seed)
        x = torch.randn((n, *run.shape), generator=g)
        t0 = time.perf_counter()
        x, nfe = _peer_draw(job["pair"], run, x, g)
        out["peer"].setdefault("wall", []).append(time.perf_counter() - t0)
        out["peer"]["nfe"] = nfe
        out["peer"].setdefault("x", []).append(x)
        return x.numpy()

    ours(0, 16), peer(0, 16)  # warm-up (lazy imports, first-call allocations), not timed
    out["ours"], out["peer"] = {}, {}
    result = {}
    for side, draw in (("ours", ours), ("peer", peer)):
        rep = evaluate(draw, ref, job["eval_seeds"])
        result[side] = {
            **rep.to_json(),
            "nfe": out[side]["nfe"],
            "wall_s": median(out[side]["wall"]),
        }
    diffs = [
        (a - b).abs().max().item() for a, b in zip(out["ours"]["x"], out["peer"]["x"], strict=True)
    ]
    result["max_abs_diff"] = max(diffs)
    return result


def run(b):
    t0 = time.perf_counter()
    seeds = b.train_seeds
    ours_cfgs = [b.cfg(seed=s, method=m) for m in ("fm", "ddpm") for s in seeds]
    ours_paths = dict(
        zip([(c.method, c.seed) for c in ours_cfgs], ensure_runs(ours_cfgs, b.quick), strict=True)
    )
    peer_jobs = []
    for kind in OBJECTIVES:
        for s in seeds:
            cfg = b.cfg(seed=s, method="fm")
            ours = run_path(cfg, b.quick)  # the peer's run sits beside ours, named for it
            peer_jobs.append((cfg, ours.with_name(f"torchcfm-{kind}-{ours.name}"), kind))
    peer_paths = pmap(_train_peer, peer_jobs)

    # objectives: every net sampled by our default rk4 x4, scored by the protocol
    score_jobs = [{"run": ours_paths[("fm", s)], "arm": "ours (CFM)"} for s in seeds]
    score_jobs += [
        {"run": p, "arm": f"torchcfm {j[2]}"} for p, j in zip(peer_paths, peer_jobs, strict=True)
    ]
    for j in score_jobs:
        j.update(sampler="rk4", steps=4, eval_seeds=b.eval_seeds, n=b.n_eval)
    scored = pmap(score, score_jobs)
    objectives = {}
    for label in ["ours (CFM)"] + [f"torchcfm {k}" for k in OBJECTIVES]:
        rs = [r for r, j in zip(scored, score_jobs, strict=True) if j["arm"] == label]
        objectives[label] = {
            "ratio_median": median([r["ratio"] for r in rs]),
            "ratio_by_seed": [r["ratio"] for r in rs],
            "train_s_median": median([r["train_s"] for r in rs]),  # at that run's machine load
            "divergence_seeds": [r["divergence_by_seed"] for r in rs],  # for paired comparisons
        }
    objectives["torchcfm I-CFM"]["max_weight_diff_vs_ours"] = max(
        _weight_diff(ours_paths[("fm", s)], p)
        for s, p, j in zip([j[0].seed for j in peer_jobs], peer_paths, peer_jobs, strict=True)
        if j[2] == "I-CFM"
    )
    for label, v in objectives.items():
        v["ratio_vs_ours"] = v["ratio_median"] / objectives["ours (CFM)"]["ratio_median"]
        if label != "ours (CFM)":  # D paired over training and evaluation seeds
            v["d_vs_ours"] = paired(v, objectives["ours (CFM)"], (label, "ours"))
    step_s = _step_cost(b.quick)  # side by side, so machine load falls on all three alike
    for label, v in objectives.items():
        v["step_ms"] = 1000 * step_s[label]
        v["step_time_vs_ours"] = step_s[label] / step_s["ours (CFM)"]

    # samplers: ours and the peer's on the same trained net and the same noise
    pair_jobs = []
    for name, (method, _) in PAIRS.items():
        long = any(tag in name for tag in LONG)
        for s in seeds[:1] if long else seeds:
            pair_jobs.append(
                {
                    "run": ours_paths[(method, s)],
                    "pair": name,
                    "eval_seeds": 1 if long else b.eval_seeds,
                    "n": b.n_eval,
                }
            )
    pair_scores = pmap(_pair, pair_jobs)
    samplers = {}
    for name, (_, (smp, k)) in PAIRS.items():
        rs = [r for r, j in zip(pair_scores, pair_jobs, strict=True) if j["pair"] == name]
        o, p = [r["ours"] for r in rs], [r["peer"] for r in rs]
        samplers[name] = {
            "ours_sampler": f"{smp} x{k}",
            "ours_ratio_median": median([r["ratio"] for r in o]),
            "peer_ratio_median": median([r["ratio"] for r in p]),
            "ours_nfe": o[0]["nfe"],
            "peer_nfe": p[0]["nfe"],
            "wall_vs_ours": median([q["wall_s"] / r["wall_s"] for q, r in zip(p, o, strict=True)]),
            "max_abs_diff": max(r["max_abs_diff"] for r in rs),
            "training_seeds": len(rs),
            "eval_seeds": rs[0]["ours"]["eval_seeds"],
        }

    parts = [
        f"{k}: {v['ratio_median']:.2f}x floor ({v['ratio_vs_ours']:.2f} of ours), "
        f"training step {v['step_time_vs_ours']:.2f}x ours, D peer - ours: {v['d_vs_ours']['line']}"
        for k, v in objectives.items()
        if k != "ours (CFM)"
    ]
    parts.append(
        f"ours (CFM): {objectives['ours (CFM)']['ratio_median']:.2f}x floor (rk4 x4); I-CFM "
        f"weights differ from ours by at most "
        f"{objectives['torchcfm I-CFM']['max_weight_diff_vs_ours']:.1e}"
    )
    for name, v in samplers.items():
        parts.append(
            f"{name}: {v['peer_ratio_median']:.2f}x vs ours {v['ours_sampler']} "
            f"{v['ours_ratio_median']:.2f}x, NFE {v['peer_nfe']} vs {v['ours_nfe']}, "
            f"wall {v['wall_vs_ours']:.2f}x, max |diff| {v['max_abs_diff']:.1e}"
        )
    # a peer "better" only where D's paired comparison says so beyond its noise
    better_peer = any(
        v["d_vs_ours"]["verdict"] == f"{k} better"
        for k, v in objectives.items()
        if k != "ours (CFM)"
    )
    same = all(
        v["peer_ratio_median"] < 1.1 * v["ours_ratio_median"] + 0.05 for v in samplers.values()
    )
    verdict = "holds" if same and not better_peer else "holds with caveat"
    _figure(b, objectives, samplers)
    Result(
        NAME,
        CLAIM,
        "; ".join(parts),
        verdict,
        {"objectives": objectives, "samplers": samplers},
        {
            "data": "moons",
            "models": "MLP, default TrainConfig (continuous.train_denoiser)",
            "objective_sampler": "ours rk4 x4 (16 NFE)",
            "peers": _peer_versions(),
            "note": (
                "pairs share the initial noise and the noise stream; the 1000-step chains are "
                "scored on training seed 0 and one evaluation seed"
            ),
        },
    ).write(b, t0)


def _weight_diff(a, b) -> float:
    """Largest difference between two runs' EMA weights (I-CFM draws the same noise as ours)."""
    from generative.continuous.train_denoiser import load_run

    na, nb = load_run(a).net.state_dict(), load_run(b).net.state_dict()
    return max((na[k] - nb[k]).abs().max().item() for k in na)


def _peer_versions() -> dict:
    from importlib.metadata import version

    return {p: version(p) for p in ("torchcfm", "flow_matching", "torchdiffeq", "diffusers")}


def _figure(b, objectives, samplers):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks.lab import figure_path

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, 2.2]})
    labels = list(objectives)
    axes[0].bar(labels, [objectives[k]["ratio_median"] for k in labels], color="C0")
    axes[0].set_ylabel("W2 / floor (median over training seeds)")
    axes[0].set_title("Objectives, our rk4 x4 sampler")
    names = list(samplers)
    pos = np.arange(len(names))
    axes[1].barh(pos - 0.2, [samplers[k]["ours_ratio_median"] for k in names], 0.4, label="ours")
    axes[1].barh(pos + 0.2, [samplers[k]["peer_ratio_median"] for k in names], 0.4, label="peer")
    axes[1].set_yticks(pos, names, fontsize=8)
    axes[1].set_xlabel("W2 / floor")
    axes[1].set_title("Samplers on our trained nets, same noise")
    axes[1].legend()
    for ax in axes:
        ax.axvline(1.0, color="gray", lw=0.5) if ax is axes[1] else ax.axhline(1.0, color="gray")
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=110)
    plt.close(fig)
