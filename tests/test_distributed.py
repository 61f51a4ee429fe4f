"""Data-parallel training under torchrun: two gloo processes on the CPU.

The ranks must end with identical weights (DDP averages gradients, EMA follows the synced
weights), and the loss curve of 2 x 32 images a step must match one process with 64 a step
within noise (same global batches; each rank draws its own noise)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import torch

from generative.continuous.train_denoiser import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
CFG = dict(
    method="fm", model="dit", data="digits", cond=True, patch=4, steps=120, batch_size=64,
    device="cpu", log_every=10,
)  # fmt: skip

WORKER = textwrap.dedent(
    """
    import os, sys, torch
    from generative.continuous.train_denoiser import TrainConfig, train
    run = train(TrainConfig(**{cfg!r}), sys.argv[1], progress=False)
    torch.save({{"ema": run.net.state_dict(), "losses": run.state["losses"]}},
               os.path.join(sys.argv[2], f"rank{{os.environ['RANK']}}.pt"))
    """
)


def windows(losses, k=4):
    """Mean loss over consecutive windows of k logged points (each point: 10 steps)."""
    v = np.array([loss for _, loss in losses])
    return v[: len(v) // k * k].reshape(-1, k).mean(1)


def test_two_gloo_ranks_agree_and_match_one_process(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(cfg=CFG))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    proc = subprocess.run(
        [*cmd, str(script), str(tmp_path / "run"), str(tmp_path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    for name, w in r0["ema"].items():
        assert torch.equal(w, r1["ema"][name]), name
    assert r0["losses"] == r1["losses"]  # the logged loss is the mean over ranks
    assert (tmp_path / "run" / "state.json").exists() and not list(tmp_path.glob("run/*rank1*"))

    single = train(TrainConfig(**CFG), tmp_path / "single", progress=False)
    ddp, one = windows(r0["losses"]), windows(single.state["losses"])
    assert len(ddp) == len(one) == 3
    assert ddp[-1] < 0.8 * ddp[0]  # it trained
    np.testing.assert_allclose(ddp, one, rtol=0.1)


TOKEN_WORKER = textwrap.dedent(
    """
    import os, sys, torch
    from generative.discrete.train_tokens import DiscreteConfig, train_discrete
    run = train_discrete(DiscreteConfig(**{cfg!r}), sys.argv[1], progress=False)
    torch.save({{"ema": run.net.state_dict(), "losses": run.state["losses"]}},
               os.path.join(sys.argv[2], f"rank{{os.environ['RANK']}}.pt"))
    """
)


def test_token_trainers_run_under_torchrun(tmp_path):
    """The token objectives get their mask and BOS ids as arguments: the net they are handed
    under torchrun is a DDP wrapper, which has no config to read them from."""
    for method in ("maskgit", "ar"):
        cfg = dict(method=method, steps=12, batch_size=16, hidden=32, depth=1, n_train=1000)
        script = tmp_path / f"{method}.py"
        script.write_text(TOKEN_WORKER.format(cfg=cfg))
        out = tmp_path / method
        out.mkdir()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
        proc = subprocess.run(
            [*cmd, str(script), str(out / "run"), str(out)],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        r0, r1 = (torch.load(out / f"rank{r}.pt") for r in (0, 1))
        for name, w in r0["ema"].items():
            assert torch.equal(w, r1["ema"][name]), (method, name)
