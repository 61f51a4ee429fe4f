"""Run folders: bit-for-bit resume, refusing damaged files, and the divergence guard."""

from __future__ import annotations

import json
import pickle
import re

import numpy as np
import pytest
import torch

import generative.loop as loop_mod
from generative.checkpoint import load_checkpoint
from generative.continuous.flow_matching import FlowMatching
from generative.continuous.train_denoiser import Diverged, TrainConfig, load_run, train
from generative.errors import UserError

torch.set_num_threads(1)


def tiny(**kw) -> TrainConfig:
    """A run small enough to train in well under a second."""
    base = dict(steps=60, ckpt_every=20, width=32, depth=1, batch_size=64, n_train=1000, seed=3)
    base.update(kw)
    return TrainConfig(**base)


class Stop(Exception):
    """Raised from a patched loss to cut a run short."""


def patch_loss(monkeypatch, at_call: int, action):
    """Make FlowMatching.loss call `action(loss)` on its at_call-th call (0-based)."""
    original = FlowMatching.loss
    calls = {"n": 0}

    def loss(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        n = calls["n"]
        calls["n"] += 1
        return action(out) if n == at_call else out

    monkeypatch.setattr(FlowMatching, "loss", loss)
    return calls


def interrupt(_loss):
    raise KeyboardInterrupt


def tensors_of(run_dir):
    return load_checkpoint(run_dir)[0]


def assert_same_weights(a_dir, b_dir):
    ta, tb = tensors_of(a_dir), tensors_of(b_dir)
    assert ta.keys() == tb.keys()
    assert any(k.startswith("ema.") for k in ta) and any(k.startswith("model.") for k in ta)
    assert any(k.startswith("opt.") for k in ta)
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An uninterrupted 60-step run (checkpoints every 20)."""
    out = tmp_path_factory.mktemp("straight")
    run = train(tiny(), out, progress=False)
    return out, run


def test_train_writes_a_loadable_run_folder(straight):
    """A run folder holds config.json, state.json and exactly one checkpoint at the last step."""
    out, run = straight
    assert (out / "config.json").is_file() and (out / "state.json").is_file()
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["checkpoint-60.safetensors"]
    assert not list(out.glob("*.tmp"))
    loaded = load_run(out)
    assert loaded.state["step"] == 60
    assert [s for s, _ in loaded.state["losses"]] == [10, 20, 30, 40, 50, 60]
    assert all(np.isfinite(v) for _, v in loaded.state["losses"])
    for (ka, va), (kb, vb) in zip(
        run.net.state_dict().items(), loaded.net.state_dict().items(), strict=True
    ):
        assert ka == kb and torch.equal(va, vb)
    assert not loaded.net.training


def test_load_run_uses_ema_weights_by_default(straight):
    """use_ema=False loads the raw model, which differs from the EMA after 60 steps."""
    out, _ = straight
    ema, raw = load_run(out).net.state_dict(), load_run(out, use_ema=False).net.state_dict()
    assert any(not torch.equal(ema[k], raw[k]) for k in ema)


def test_resume_after_interrupt_is_bit_for_bit(tmp_path, monkeypatch, straight):
    """Interrupted at step 35 (checkpoint at 30), resumed to 60: same tensors and loss log."""
    out_ref, ref_run = straight
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        patch_loss(m, 35, interrupt)
        with pytest.raises(KeyboardInterrupt):
            train(tiny(ckpt_every=10), out, progress=False)
    assert load_run(out).state["step"] == 30
    run = train(tiny(ckpt_every=10), out, resume=True, progress=False)
    assert run.state["step"] == 60
    assert_same_weights(out, out_ref)
    assert run.state["losses"] == ref_run.state["losses"]
    for (_, a), (_, b) in zip(
        run.net.state_dict().items(), ref_run.net.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b)


def test_resume_in_two_legs_of_thirty_steps_matches(tmp_path, straight):
    """A 60-step run stopped by a Ctrl-C at its step-20 checkpoint boundary and resumed matches."""
    out_ref, ref_run = straight
    out = tmp_path / "run"
    with pytest.MonkeyPatch.context() as m:
        patch_loss(m, 30, interrupt)  # step 30 is a checkpoint-free step: resume from 20
        with pytest.raises(KeyboardInterrupt):
            train(tiny(), out, progress=False)
    assert load_run(out).state["step"] == 20
    run = train(tiny(), out, resume=True, progress=False)
    assert_same_weights(out, out_ref)
    assert run.state["losses"] == ref_run.state["losses"]


def test_extending_a_finished_run_continues_from_its_step(tmp_path):
    """A finished 30-step run resumed with steps=60 trains 30 more and keeps its loss log."""
    out = tmp_path / "run"
    first = train(tiny(steps=30), out, progress=False)
    log30 = [list(x) for x in first.state["losses"]]
    run = train(tiny(steps=60), out, resume=True, progress=False)
    assert run.state["step"] == 60
    assert run.state["losses"][:3] == log30
    assert [s for s, _ in run.state["losses"]] == [10, 20, 30, 40, 50, 60]
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["checkpoint-60.safetensors"]


def test_resume_refuses_a_new_architecture_and_takes_a_new_lr(tmp_path, capsys):
    """Resuming keeps the run's architecture (a different one is refused, naming the flags) and
    takes the flags that may change (steps, lr), saying so."""
    out = tmp_path / "run"
    train(tiny(steps=20), out, progress=False)
    with pytest.raises(UserError, match=r"--width 64 \(the run has 32\).*--depth"):
        train(tiny(steps=30, width=64, depth=2), out, resume=True, progress=False)
    run = train(tiny(steps=30, lr=5e-4), out, resume=True, progress=False)
    assert run.cfg.width == 32 and run.cfg.lr == 5e-4 and run.state["step"] == 30
    assert "--lr 0.002 -> 0.0005" in capsys.readouterr().out
    assert load_run(out).cfg.lr == 5e-4  # config.json records it


def test_resume_without_steps_continues_to_the_runs_own_target(tmp_path, monkeypatch):
    """Resume with steps unset (0, as the CLI passes it) should train to the saved step target."""
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        patch_loss(m, 25, interrupt)
        with pytest.raises(KeyboardInterrupt):
            train(tiny(), out, progress=False)
    totals = []
    real_tqdm = loop_mod.tqdm

    def recording_tqdm(*args, **kwargs):
        totals.append(kwargs.get("total"))
        return real_tqdm(*args, **kwargs)

    def stop(_loss):
        raise Stop

    monkeypatch.setattr(loop_mod, "tqdm", recording_tqdm)
    patch_loss(monkeypatch, 0, stop)
    with pytest.raises(Stop):
        train(TrainConfig(steps=0), out, resume=True, progress=False)
    assert totals == [60]


def test_resume_off_the_log_grid_keeps_the_loss_log(tmp_path, monkeypatch):
    """ckpt_every=15 (log_every=10): an interrupted+resumed run logs the same losses."""
    ref = train(tiny(ckpt_every=15), tmp_path / "ref", progress=False)
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        patch_loss(m, 20, interrupt)  # checkpoint at 15 holds half of the 11..20 window
        with pytest.raises(KeyboardInterrupt):
            train(tiny(ckpt_every=15), out, progress=False)
    run = train(tiny(ckpt_every=15), out, resume=True, progress=False)
    assert_same_weights(out, tmp_path / "ref")  # the weights do match
    assert run.state["losses"] == ref.state["losses"]


def test_training_twice_into_same_folder_is_refused(tmp_path):
    """A second train into a run folder without resume is a UserError naming --resume."""
    out = tmp_path / "run"
    train(tiny(steps=10), out, progress=False)
    before = (out / "state.json").read_bytes()
    with pytest.raises(UserError, match="--resume"):
        train(tiny(steps=10), out, progress=False)
    assert (out / "state.json").read_bytes() == before


# --- damaged run folders -------------------------------------------------------------------


@pytest.fixture()
def run_dir(tmp_path):
    out = tmp_path / "run"
    train(tiny(steps=10), out, progress=False)
    return out


def ckpt_file(run_dir):
    (path,) = run_dir.glob("checkpoint-*.safetensors")
    return path


def test_truncated_checkpoint_is_refused_with_checksum_message(run_dir):
    """A truncated weights file fails the SHA-256 check with a clean UserError."""
    path = ckpt_file(run_dir)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="checksum"):
        load_run(run_dir)


def test_flipped_byte_in_checkpoint_is_refused(run_dir):
    """One altered byte deep in the tensor data is caught."""
    path = ckpt_file(run_dir)
    data = bytearray(path.read_bytes())
    data[len(data) - 100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="checksum"):
        load_run(run_dir)


def test_missing_checkpoint_file_is_refused(run_dir):
    """state.json naming a file that is gone gives a clean error."""
    ckpt_file(run_dir).unlink()
    with pytest.raises(UserError, match="missing"):
        load_run(run_dir)


def test_invalid_state_json_is_refused(run_dir):
    """Corrupt JSON in state.json is a UserError naming the file."""
    (run_dir / "state.json").write_text('{"step": 10, "checkpoint": ')
    with pytest.raises(UserError, match="state.json"):
        load_run(run_dir)


def test_invalid_config_json_is_refused(run_dir):
    """Corrupt JSON (or non-UTF-8 bytes) in config.json is a UserError."""
    (run_dir / "config.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(UserError, match="config.json"):
        load_run(run_dir)


def test_config_json_without_run_keys_is_refused(run_dir):
    """Valid JSON that is not a run config is a UserError, not a KeyError."""
    (run_dir / "config.json").write_text('{"hello": 1}')
    with pytest.raises(UserError, match="not a run config"):
        load_run(run_dir)


def test_state_json_that_is_not_an_object_is_refused(run_dir):
    """state.json = [] is a damaged run folder: expect a UserError."""
    (run_dir / "state.json").write_text("[]")
    with pytest.raises(UserError):
        load_run(run_dir)


def test_checkpoint_not_matching_config_is_refused(run_dir):
    """Weights that do not fit the config's architecture give a UserError, not a RuntimeError."""
    cfg = json.loads((run_dir / "config.json").read_text())
    cfg["train"]["width"] = 48
    (run_dir / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="do not fit"):
        load_run(run_dir)


def test_folder_that_is_not_a_run_is_refused(tmp_path):
    """An empty folder and a missing folder are clean UserErrors."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a run")
    with pytest.raises(UserError, match="not a run folder"):
        load_run(tmp_path / "empty")
    with pytest.raises(UserError):
        load_run(tmp_path / "nope")


def test_a_file_given_as_run_folder_is_refused(tmp_path):
    """A plain file passed as the run folder is a UserError, not NotADirectoryError."""
    (tmp_path / "samples.csv").write_text("1,2\n3,4\n")
    with pytest.raises(UserError):
        load_run(tmp_path / "samples.csv")


def test_loading_never_unpickles(run_dir, monkeypatch):
    """load_run works with pickle and torch.load disabled (safetensors + JSON only)."""

    def banned(*a, **k):
        raise AssertionError("pickle used while loading a run")

    monkeypatch.setattr(pickle, "load", banned)
    monkeypatch.setattr(pickle, "loads", banned)
    monkeypatch.setattr(pickle, "Unpickler", banned)
    monkeypatch.setattr(torch, "load", banned)
    run = load_run(run_dir)
    assert run.state["step"] == 10
    assert ckpt_file(run_dir).read_bytes()[8:9] == b"{"  # a safetensors JSON header, not a zip


# --- divergence ----------------------------------------------------------------------------


def test_absurd_learning_rate_raises_diverged_with_advice(tmp_path):
    """lr=1e6 makes the loss non-finite: Diverged (a UserError) naming lr and standardization."""
    out = tmp_path / "run"
    with pytest.raises(Diverged) as exc:
        train(tiny(lr=1e6, steps=50, ckpt_every=1), out, progress=False)
    assert isinstance(exc.value, UserError)
    msg = str(exc.value)
    assert "--lr" in msg and "1e+06" in msg
    assert "standardiz" in msg
    step = int(re.search(r"at step (\d+)", msg).group(1))
    saved = load_run(out)  # the checkpoint before divergence is intact
    assert saved.state["step"] <= step
    assert all(torch.isfinite(p).all() for p in saved.net.parameters())


def test_nan_loss_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    """A loss turning NaN at step 45 leaves the step-40 checkpoint loadable."""
    out = tmp_path / "run"
    patch_loss(monkeypatch, 45, lambda loss: loss * float("nan"))
    with pytest.raises(Diverged, match="at step 45"):
        train(tiny(ckpt_every=20), out, progress=False)
    saved = load_run(out)
    assert saved.state["step"] == 40 < 45
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["checkpoint-40.safetensors"]
    # and the run can be resumed past the (patched) failure once the loss is healthy again
    monkeypatch.undo()
    assert train(tiny(ckpt_every=20), out, resume=True, progress=False).state["step"] == 60


def test_diverged_message_names_the_checkpoint_actually_kept(tmp_path, monkeypatch):
    """The step the Diverged message calls 'the last good checkpoint' is the one on disk."""
    out = tmp_path / "run"
    patch_loss(monkeypatch, 45, lambda loss: loss * float("nan"))
    with pytest.raises(Diverged) as exc:
        train(tiny(ckpt_every=20), out, progress=False)
    claimed = int(re.search(r"checkpoint \(step (\d+)\)", str(exc.value)).group(1))
    assert claimed == load_run(out).state["step"]
