"""exp41 (think then draw, token surgery): the quick budget end to end, and the committed
results' invariants (surgery keeps the untouched half, pixel for pixel)."""

import json
from pathlib import Path

import pytest

RESULT = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "exp41_think.json"
SCORES = ("direct", "think", "counterfactual", "rewrite")


def check_structure(out: dict):
    for name in SCORES:
        for split in ("trained", "held_out"):
            r = out["think"][name][split]
            assert 0.0 <= r["accuracy"] <= 1.0
            if name in ("think", "counterfactual"):
                f = r["forced"]
                assert 0.0 <= f["follows_forced"] + f["draws_true_sum"] <= 1.0  # c' != a + b
                assert 0.0 <= r["trace_correct"] <= 1.0
                assert r["accuracy"] <= r["valid"]
    s = out["surgery"]
    # the untouched half is given to the decoder and never re-written: identical by construction
    assert s["surgery"]["untouched_preserved"] == 1.0
    assert s["surgery"]["untouched_pixels_changed"] == 0.0
    assert s["surgery"]["boundary_leakage"] == pytest.approx(1.0 - s["surgery"]["valid"])
    for arm in ("surgery", "regeneration"):
        assert s[arm]["edit_success"] <= s[arm]["valid"]
    assert sum(s["edited_words"].values()) == s["n"]
    assert set(out["training"]) == {
        "direct", "think", "counterfactual", "tower_text", "tower_drawer", "showo"
    }  # fmt: skip
    # the towers of prompt rewriting share one unified model's steps
    t = out["training"]
    assert t["tower_text"]["steps"] + t["tower_drawer"]["steps"] == t["think"]["steps"]


def test_quick_budget_runs_and_keeps_its_invariants(tmp_path, monkeypatch):
    from benchmarks import exp41_think

    monkeypatch.setenv("GENERATIVE_EXP41_BUDGET", "quick")
    monkeypatch.setenv("GENERATIVE_EXP41_OUT", str(tmp_path))
    exp41_think.main()
    out = json.loads((tmp_path / "exp41_think_quick.json").read_text())
    check_structure(out)
    assert out["budget"]["name"] == "quick"
    model, cfg = exp41_think.load_model("think", tmp_path)  # the weights the bake reuses
    assert cfg["steps"] == out["training"]["think"]["steps"]
    assert model.num_params() == out["training"]["think"]["params"]


@pytest.mark.skipif(not RESULT.exists(), reason="exp41 has not been run")
def test_committed_results_keep_the_invariants():
    out = json.loads(RESULT.read_text())
    check_structure(out)
    assert out["budget"]["name"] == "cpu25"
    assert out["max_train_cpu_s"] <= 4 * 60 * 1.25  # each model about 4 CPU-minutes at most
    n = len(out["pairs"]["trained"]) * out["budget"]["repeats"]
    assert out["think"]["think"]["trained"]["n"] == n
    assert {tuple(p) for p in out["pairs"]["trained"]}.isdisjoint(
        tuple(p) for p in out["pairs"]["held_out"]
    )


def test_think_part_trains_only_the_chosen_variants(tmp_path, monkeypatch):
    from benchmarks import exp41_think

    monkeypatch.setenv("GENERATIVE_EXP41_BUDGET", "quick")
    monkeypatch.setenv("GENERATIVE_EXP41_OUT", str(tmp_path))
    monkeypatch.setenv("GENERATIVE_EXP41_PARTS", "think")
    monkeypatch.setenv("GENERATIVE_EXP41_VARIANTS", "think,direct")
    exp41_think.main()
    out = json.loads((tmp_path / "exp41_think_quick_direct-think.json").read_text())
    assert set(out["training"]) == set(out["think"]) == {"direct", "think"}
    assert out["surgery"] is None
    assert 0.0 <= out["think"]["think"]["held_out"]["forced"]["follows_forced"] <= 1.0


def test_partial_runs_never_replace_the_default_results(monkeypatch):
    from benchmarks import exp41_think

    monkeypatch.setenv("GENERATIVE_EXP41_PARTS", "think")
    with pytest.raises(SystemExit, match="cpu25"):
        exp41_think.main()  # the default budget writes benchmarks/results/
    monkeypatch.setenv("GENERATIVE_EXP41_PARTS", "all")
    monkeypatch.setenv("GENERATIVE_EXP41_VARIANTS", "think")
    with pytest.raises(SystemExit, match="PARTS=think"):
        exp41_think.parts_from_env()
    monkeypatch.setenv("GENERATIVE_EXP41_PARTS", "think")
    monkeypatch.setenv("GENERATIVE_EXP41_VARIANTS", "thinking")
    with pytest.raises(SystemExit, match="choose among"):
        exp41_think.parts_from_env()
