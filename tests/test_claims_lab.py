"""The claims lab's pipeline end to end, at quick budgets (numbers meaningless, files real)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run_all import EXPERIMENTS, GROUPS

ROOT = Path(__file__).resolve().parents[1]
QUICK_RESULTS = ROOT / "benchmarks" / "results" / "quick"
VERDICTS = {"holds", "does not hold", "holds with caveat"}


@pytest.fixture(scope="module")
def quick_run():
    """Run every experiment once at quick budgets (about two minutes on two cores)."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_experiment_writes_its_result_and_figure(quick_run, name):
    """Every experiment leaves a JSON with claim, measurement, verdict, seeds, versions and the
    command that reproduces it, and a non-empty PNG."""
    result = json.loads((QUICK_RESULTS / f"{name}.json").read_text())
    assert result["experiment"] == name
    assert result["verdict"] in VERDICTS
    assert result["claim"] and result["measured"] and result["numbers"]
    assert result["quick"] is True and result["training_seeds"] and result["eval_seeds"] >= 1
    assert {"torch", "numpy", "pot"} <= set(result["versions"])
    assert result["command"].startswith("python -m benchmarks.run_all --only " + name)
    png = QUICK_RESULTS / f"{name}.png"
    assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"
    assert f"{name}: " in quick_run  # the headline was printed


def test_groups_split_the_experiments_once_each():
    groups = ("parta", "images", "tokenizers", "generation", "fewstep")
    parts = [n for g in groups for n in GROUPS[g]]
    assert parts == EXPERIMENTS and GROUPS["all"] == EXPERIMENTS
    assert all(n.startswith(("exp0", "exp10")) for n in GROUPS["parta"])


def test_partb_budget_is_named_by_the_environment(monkeypatch):
    from benchmarks import lab_discrete as ld
    from benchmarks.lab import FULL, QUICK

    monkeypatch.delenv(ld.BUDGET_ENV, raising=False)
    assert ld.budget(FULL).name == "cpu15" and ld.budget(QUICK).name == "quick"
    monkeypatch.setenv(ld.BUDGET_ENV, "prototype")
    assert ld.budget(FULL) == ld.PROTOTYPE and ld.PROTOTYPE.hidden == 96
    monkeypatch.setenv(ld.BUDGET_ENV, "huge")
    with pytest.raises(SystemExit, match="choose one of cpu15, prototype, session"):
        ld.budget(FULL)


def test_pmap_runs_longest_first_and_returns_in_order(monkeypatch):
    from benchmarks import lab

    arms = (("rk4", 4), ("ancestral", 1000))
    jobs = [{"sampler": s, "steps": k, "eval_seeds": 5} for s, k in arms]
    assert lab.job_cost(jobs[0]) == 80 and lab.job_cost(jobs[1]) == 5000
    monkeypatch.setattr(lab, "WORKERS", 2)
    assert lab.pmap(lab.job_cost, jobs + jobs[:1]) == [80, 5000, 80]  # the pool keeps the order


def test_image_runs_and_point_runs_are_cached_apart():
    """`make bench` from scratch clears the 2D runs only; the image lab's runs stay."""
    from benchmarks.image_lab import JUDGES
    from benchmarks.lab import cache_dir, run_path
    from benchmarks.run_all import from_scratch_folders
    from generative.continuous.train_denoiser import TrainConfig

    points = run_path(TrainConfig(), quick=False).parent
    images = run_path(TrainConfig(data="digits", model="dit"), quick=False).parent
    assert points == cache_dir(False) and images == cache_dir(False, images=True) != points
    assert from_scratch_folders(GROUPS["parta"], quick=False) == [points]
    assert from_scratch_folders(GROUPS["images"], quick=False) == [images, JUDGES]
    assert from_scratch_folders(GROUPS["generation"], quick=False) == []


def test_a_score_is_kept_with_its_run_and_reused(tmp_path):
    """Scoring the same run the same way twice solves the OT once and returns the same numbers;
    another sampler is another entry; samples come back when asked for."""
    import numpy as np

    from benchmarks import lab
    from generative.continuous.train_denoiser import TrainConfig, train

    run = tmp_path / "run"
    train(TrainConfig(steps=30), run, progress=False)
    job = {"run": run, "sampler": "euler", "steps": 4, "eval_seeds": 1, "n": 300}
    first = lab.score(job)
    assert "samples" not in first and len(list((run / "scores").glob("*.json"))) == 1
    computed = lab.score_run

    def refuse(job):
        raise AssertionError("scored again instead of reading the kept score")

    lab.score_run = refuse
    try:
        assert lab.score(job) == first
        kept = lab.score({**job, "keep_samples": True})["samples"]
    finally:
        lab.score_run = computed
    assert np.array_equal(kept, computed({**job, "keep_samples": True})["samples"])
    other = lab.score({**job, "steps": 8})
    assert len(list((run / "scores").glob("*.json"))) == 2 and other["nfe"] == 8


def test_every_scoring_field_changes_the_score_key():
    from benchmarks import lab

    job = {"run": "r", "sampler": "euler", "steps": 4, "eval_seeds": 1}
    keys = {lab._score_key(job)}
    for change in (
        {"snapshot": 250},
        {"variance": "beta_tilde"},
        {"guidance": 2.0},
        {"label": 1},
        {"n": 500},
        {"eval_seeds": 5},
        {"sampler": "rk4"},
    ):
        keys.add(lab._score_key({**job, **change}))
    assert len(keys) == 8
    assert lab._score_key({**job, "run": "elsewhere", "keep_samples": True}) in keys  # not keyed


def test_a_run_killed_part_way_is_not_taken_for_finished(tmp_path):
    import json

    from benchmarks import lab
    from generative.continuous.train_denoiser import TrainConfig

    cfg = TrainConfig(steps=30)
    (tmp_path / "state.json").write_text(json.dumps({"step": 20}))
    assert not lab._cached(cfg, tmp_path)
    (tmp_path / "state.json").write_text(json.dumps({"step": 30}))
    assert lab._cached(cfg, tmp_path)


def test_a_cache_entry_has_one_trainer_at_a_time(tmp_path):
    """A second trainer of the same cache entry waits for the first, then finds it cached (two
    processes once trained one config into one folder: the folder was cleared under a writer)."""
    import fcntl
    import threading

    from benchmarks import lab
    from generative.continuous.train_denoiser import TrainConfig

    cfg = TrainConfig(steps=5, width=16, depth=1, batch_size=32, n_train=500)
    path = tmp_path / "run"
    with open(tmp_path / ".run.lock", "w") as held:  # as if another process were training it
        fcntl.flock(held, fcntl.LOCK_EX)
        t = threading.Thread(target=lab._train_one, args=((cfg, path),))
        t.start()
        t.join(timeout=1.0)
        assert t.is_alive() and not path.exists()  # waiting, nothing written
    t.join(timeout=120)
    assert not t.is_alive() and lab._cached(cfg, path)
    mtime = (path / "state.json").stat().st_mtime_ns
    lab._train_one((cfg, path))  # cached now: not trained again
    assert (path / "state.json").stat().st_mtime_ns == mtime
