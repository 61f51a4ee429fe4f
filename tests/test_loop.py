"""The one training loop: schedule, EMA, the divergence guard, the run-folder lock, Ctrl-C, resume
bit for bit (Part A and a token run), resume's rules, and --no-standardize on D != 2."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import generative.loop as loop_mod
from generative.checkpoint import load_checkpoint, resume_config
from generative.continuous.flow_matching import FlowMatching
from generative.continuous.train_denoiser import Diverged, TrainConfig, load_run, train
from generative.discrete.train_tokens import DiscreteConfig, load_discrete_run, train_discrete
from generative.ema import ema_update, ema_warmup
from generative.errors import UserError
from generative.loop import Guard, Interrupted, lr_at

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def tiny(**kw) -> TrainConfig:
    base = dict(steps=60, ckpt_every=20, width=32, depth=1, batch_size=64, n_train=1000, seed=3)
    return TrainConfig(**{**base, **kw})


def tiny_tokens(**kw) -> DiscreteConfig:
    base = dict(steps=40, batch_size=32, n_train=1000, hidden=32, depth=1, heads=2, warmup=10)
    return DiscreteConfig(**{**base, **kw})


def same_tensors(a_dir, b_dir):
    ta, tb = load_checkpoint(a_dir)[0], load_checkpoint(b_dir)[0]
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k


# --- schedule and EMA ----------------------------------------------------------------------


def test_schedule_without_warmup_is_the_plain_cosine():
    for step in (0, 1, 17, 50, 99):
        assert lr_at(step, 100, 2e-3) == 2e-3 * 0.5 * (1 + math.cos(math.pi * step / 100))
    assert lr_at(0, 100, 2e-3) == 2e-3 and lr_at(50, 100, 2e-3) == pytest.approx(1e-3)
    assert lr_at(99, 100, 2e-3) < 1e-6


def test_warmup_rises_linearly_then_follows_the_cosine():
    lrs = [lr_at(s, 1000, 1.0, warmup=100) for s in range(1000)]
    assert lrs[0] == pytest.approx(0.01 * 0.5 * (1 + math.cos(0)))
    assert all(b > a for a, b in zip(lrs[:99], lrs[1:99], strict=False))  # rising
    assert lrs[99] == pytest.approx(0.5 * (1 + math.cos(math.pi * 99 / 1000)))
    assert all(b <= a for a, b in zip(lrs[99:], lrs[100:], strict=False))  # then decaying
    assert max(lrs) == lrs[99]


def test_ema_update_is_the_lerp_with_its_warmup():
    e, p = [torch.zeros(3)], [torch.ones(3)]
    ema_update(e, p, 0.9, step=0)  # warm-up: decay min(0.9, 1/10) = 0.1
    assert torch.allclose(e[0], torch.full((3,), 0.9))
    ema_update(e, p, 0.9, step=1000)  # decay 0.9: e <- 0.9 e + 0.1 p
    assert torch.allclose(e[0], torch.full((3,), 0.9 * 0.9 + 0.1))


def test_an_ema_decay_the_warmup_never_reaches_is_named_with_the_steps_it_needs(tmp_path, capsys):
    """--ema-decay 0.999 over 50 steps acts as the warm-up's 0.8475 (50 / 59): the run says so
    and names the step count that would use it. It speaks when the EMA averages over less than a
    quarter of the horizon 1 / (1 - decay) asked for (0.97: 33 steps asked, 6.6 reached), and
    stays quiet above that (0.96: 25 asked) or for a reachable decay."""
    train(tiny(steps=50, ema_decay=0.999), tmp_path / "a", progress=False)
    out = capsys.readouterr().out
    assert "--ema-decay 0.999 is never reached in 50 steps" in out and "0.8475" in out
    need = int(re.search(r"train for (\d+) steps", out).group(1))
    assert ema_warmup(need - 1) >= 0.999 > ema_warmup(need - 2)
    train(tiny(steps=50, ema_decay=0.8), tmp_path / "b", progress=False)
    assert "never reached" not in capsys.readouterr().out
    train(tiny(steps=50, ema_decay=0.97), tmp_path / "c", progress=False)
    assert "never reached" in capsys.readouterr().out
    train(tiny(steps=50, ema_decay=0.96), tmp_path / "d", progress=False)
    assert "never reached" not in capsys.readouterr().out


# --- the guard -----------------------------------------------------------------------------


def test_guard_catches_a_jump_and_a_slow_climb_but_not_noise():
    rng = np.random.default_rng(0)
    g = Guard(10.0)
    assert all(g.problem(1 + 0.3 * rng.random()) is None for _ in range(500))  # noise
    assert g.problem(50.0) is None and g.skip  # a lone spike skips its batch
    assert g.problem(1.1) is None and not g.skip  # ...and the run goes on
    assert g.problem(50.0) is None and g.problem(60.0) is None and g.skip
    assert "jumped" in g.problem(70.0)  # three in a row: a divergence
    climb = Guard(10.0)
    found = [climb.problem(1.02**k) for k in range(400)]  # never 10x its last 100 steps
    first = next(i for i, p in enumerate(found) if p)
    assert "climbed" in found[first] and 1.02**first < 40
    assert "nan" in Guard(10.0).problem(float("nan"))


def explode_from(monkeypatch, call: int, factor: float = 1e4):
    """FlowMatching's loss is multiplied by `factor` from its call-th call on (finite)."""
    original, n = FlowMatching.loss, {"calls": 0}

    def loss(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        n["calls"] += 1
        return out * factor if n["calls"] > call else out

    monkeypatch.setattr(FlowMatching, "loss", loss)


def test_an_exploding_loss_stops_and_keeps_the_checkpoint_from_before(tmp_path, monkeypatch):
    out = tmp_path / "run"
    explode_from(monkeypatch, 45)
    with pytest.raises(Diverged) as exc:
        train(tiny(), out, progress=False)
    msg = str(exc.value)
    assert "at step 47" in msg and "jumped" in msg and "--lr" in msg  # 45, 46 skipped
    assert re.search(r"checkpoint \(step 40\).*its loss: [0-9.]+", msg)
    kept = load_run(out)
    assert kept.state["step"] == 40 and all(v < 10 for _, v in kept.state["losses"])
    assert all(torch.isfinite(p).all() for p in kept.net.parameters())


def test_a_lone_spike_skips_its_batch_and_training_goes_on(tmp_path, monkeypatch):
    """One bad batch (reflow's tiny losses have them) is skipped, not called a divergence."""
    original, n = FlowMatching.loss, {"calls": 0}

    def loss(self, *args, **kwargs):
        n["calls"] += 1
        return original(self, *args, **kwargs) * (1e4 if n["calls"] == 30 else 1)

    monkeypatch.setattr(FlowMatching, "loss", loss)
    run = train(tiny(), tmp_path / "run", progress=False)
    assert run.state["step"] == tiny().steps and run.state["skipped"] == 1


def test_a_divergent_learning_rate_is_caught(tmp_path):
    """The issue's case: --lr 0.5 used to finish with loss 4e11 and NaN samples."""
    with pytest.raises(Diverged, match="lower --lr"):
        train(tiny(lr=0.5, steps=300, ckpt_every=10), tmp_path / "run", progress=False)


# --- run folders: lock, signals, loss curve, log lines --------------------------------------

HOLD = "import fcntl, os, sys, time\nfd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
HOLD += "fcntl.flock(fd, fcntl.LOCK_EX)\nos.write(fd, str(os.getpid()).encode())\n"
HOLD += "print('held', flush=True)\ntime.sleep(60)\n"


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out / ".lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=rf"pid {holder.pid}\b.*another --out"):
            train(tiny(steps=5), out, progress=False)
        assert not (out / "config.json").exists()  # nothing written beside the other's run
    finally:
        holder.kill()
        holder.wait()
    train(tiny(steps=5), out, progress=False)  # the holder died: its lock is taken over


def test_a_stale_lock_file_of_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text("999999999")
    assert train(tiny(steps=5), out, progress=False).state["step"] == 5


def test_an_out_that_is_a_file_is_refused_and_kept(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    with pytest.raises(UserError, match="cannot write a run folder there"):
        train(tiny(steps=5), f, progress=False)
    assert f.read_text() == "keep me"


def test_run_folder_has_a_loss_curve_and_logs_plain_lines(tmp_path, capsys):
    out = tmp_path / "run"
    train(tiny(steps=30), out, progress=True)  # pytest's stderr is no terminal: plain lines
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert "step 30/30 loss" in capsys.readouterr().out


def signal_after(monkeypatch, at_step: int, sig=signal.SIGINT):
    """Send this process `sig` during step `at_step` (0-based), as a Ctrl-C would arrive."""
    original = loop_mod._Loop.step

    def step(self, step):
        original(self, step)
        if step == at_step:
            os.kill(os.getpid(), sig)

    monkeypatch.setattr(loop_mod._Loop, "step", step)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_a_checkpoint_and_resume_is_bit_exact(tmp_path, monkeypatch, sig):
    """Stopped after step 27 of 60 (no checkpoint due: ckpt_every 20 saved one at 20), the run
    saves step 27; resumed, it ends with the same tensors and losses as a straight run."""
    straight = train(tiny(), tmp_path / "straight", progress=False)
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        signal_after(m, 26, sig)
        with pytest.raises(Interrupted, match="step 27/60.*--resume"):
            train(tiny(), out, progress=False)
    assert load_run(out).state["step"] == 27 and (out / "loss.png").exists()
    run = train(tiny(), out, resume=True, progress=False)
    same_tensors(out, tmp_path / "straight")
    assert run.state["losses"] == straight.state["losses"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_a_token_run_resumes_bit_exact(tmp_path, monkeypatch):
    straight = train_discrete(tiny_tokens(), tmp_path / "straight", progress=False)
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        signal_after(m, 19)
        with pytest.raises(Interrupted):
            train_discrete(tiny_tokens(), out, progress=False)
    assert load_discrete_run(out, data=False).state["step"] == 20
    run = train_discrete(tiny_tokens(), out, resume=True, progress=False)
    same_tensors(out, tmp_path / "straight")
    assert run.state["losses"] == straight.state["losses"]


def test_a_tokenizer_with_code_restarts_resumes_bit_exact(tmp_path, monkeypatch):
    """EMA-VQ restarts dead codes from the global torch RNG: the checkpoint keeps that too."""
    from generative.discrete.tokenizers.train_tokenizer import TokenizerConfig, train_tokenizer

    cfg = TokenizerConfig(quantizer="ema", K=32, steps=30, width=16, n_train=512, n_eval=100)
    straight = train_tokenizer(cfg, tmp_path / "straight", progress=False)
    with monkeypatch.context() as m:
        signal_after(m, 14)
        with pytest.raises(Interrupted):
            train_tokenizer(cfg, tmp_path / "run", progress=False)
    run = train_tokenizer(cfg, tmp_path / "run", progress=False, resume=True)
    same_tensors(tmp_path / "run", tmp_path / "straight")
    assert run.stats == straight.stats


def test_ctrl_c_on_the_command_line_saves_and_exits_130(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "generative.cli", "train", "--steps", "100000", "--width", "32"]
    cmd += ["--depth", "1", "--batch-size", "64", "--out", str(out), "--no-eval"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert "step" in proc.stdout.readline()  # the first plain log line: training is under way
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err
    step = load_run(out).state["step"]
    assert 0 < step < 100000 and f"step {step}" in err and "--resume" in err


# --- resume's rules and --no-standardize -----------------------------------------------------


def test_resume_config_takes_what_may_change_and_refuses_the_rest():
    saved = TrainConfig(steps=100, lr=1e-3, width=64)
    cfg, notes = resume_config(saved, TrainConfig(steps=200, lr=5e-4), {"steps", "lr"})
    assert (cfg.steps, cfg.lr, cfg.width) == (200, 5e-4, 64)  # width: not given, kept
    assert notes == ["--steps 100 -> 200", "--lr 0.001 -> 0.0005"]
    with pytest.raises(UserError, match=r"--method ddpm \(the run has fm\)"):
        resume_config(saved, TrainConfig(method="ddpm"), {"steps", "lr"})
    # explicit: a flag given at its default value still counts
    cfg, _ = resume_config(
        saved, TrainConfig(width=64, ckpt_every=1000), {"ckpt_every"}, {"ckpt_every"}
    )
    assert cfg == saved


@pytest.mark.parametrize("dim", [1, 3])
def test_no_standardize_keeps_every_column(tmp_path, dim):
    x = np.random.default_rng(0).normal(size=(300, dim)) * 2 + 5
    np.savetxt(tmp_path / "pts.csv", x, delimiter=",")
    cfg = tiny(data=str(tmp_path / "pts.csv"), standardize=False, steps=20)
    run = train(cfg, tmp_path / "run", progress=False)
    assert run.shape == (dim,)
    loaded = load_run(tmp_path / "run")
    z = np.ones((4, dim), np.float32)
    np.testing.assert_array_equal(loaded.standardizer.decode(z), z)  # identity, D columns
    with torch.no_grad():
        assert loaded.net(torch.zeros(4, dim), torch.zeros(4)).shape == (4, dim)


def test_resume_takes_a_flag_given_at_its_default_value(tmp_path):
    """`generative train --resume --out r --steps 10000` on a token run: 10000 is DiscreteConfig's
    default, so without the command line's set of given flags the trainer read it as not given
    and kept the run's 4 steps (found by the unified CLI's tests). With it, the flag is taken."""
    import dataclasses

    from generative.discrete import train_tokens as tt

    saved = DiscreteConfig(steps=4)
    given = dataclasses.replace(saved, steps=DiscreteConfig().steps)  # the CLI's merged config

    def begin(explicit):
        return loop_mod.begin(
            given, tmp_path, True, saved=lambda _: saved, resumable=tt.RESUMABLE,
            check=lambda c: c, loop_config=tt.loop_config, explicit=explicit,
        )  # fmt: skip

    cfg, lc, _ = begin({"steps"})
    assert cfg.steps == lc.steps == DiscreteConfig().steps
    assert begin(None)[0].steps == 4  # without the set: a default value reads as not given
