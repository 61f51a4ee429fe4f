"""Two-image reasoning (generative/unified/multi_image.py, exp42): well-formed documents, held-out
answers never trained, the exact scoring on hand-built answers, and the quick experiment."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from generative.discrete.data import shapes as S
from generative.unified import multi_image as mi
from generative.unified.vocab import Vocab

RESULT = Path(__file__).resolve().parents[1] / "benchmarks/results/exp42_multi_image.json"


@pytest.fixture(scope="module")
def v():
    return Vocab()


def test_vocab_needs_no_new_word_and_keeps_its_ids(v):
    for text in mi.INSTRUCTIONS:
        assert v.decode_text(v.encode_text(text)) == text
    # ids other experiments' weights depend on: the markers, and image ids after the words
    assert (v.BOS, v.BOI, v.EOI, v.THINK, v.ENDTHINK) == (1, 3, 4, 5, 6)
    assert v.size == Vocab().size and v.image_offset == len(v.text)


def test_split_holds_out_one_colour_per_shape():
    split = mi.split_combos(seed=3)
    assert len(split.trained) == 12 and len(split.held_out) == 4
    assert sorted(split.held_out[:, 0]) == [0, 1, 2, 3] == sorted(split.held_out[:, 1])
    assert {tuple(p) for p in split.trained}.isdisjoint(tuple(p) for p in split.held_out)


def test_tasks_answer_is_the_source_recoloured():
    split = mi.split_combos(0)
    t = mi.make_tasks(200, split.trained, seed=1)
    src = {0: t.first, 1: t.second}
    for i in range(len(t)):
        s, d = src[t.instruction[i]], src[1 - t.instruction[i]]
        assert t.answer["shape"][i] == s["shape"][i] and t.answer["colour"][i] == d["colour"][i]
        assert all(t.answer[k][i] == s[k][i] for k in ("quadrant", "jitter_y", "jitter_x"))
    assert set(np.unique(t.instruction)) == {0, 1}


@pytest.mark.parametrize("variant", mi.VARIANTS)
def test_corpus_documents_are_well_formed(v, variant):
    split = mi.split_combos(0)
    docs = mi.corpus(v, split, variant, 64, p_single=0.3, seed=5)
    assert docs.tokens.shape[1] <= mi.MAX_LEN
    held = {tuple(p) for p in split.held_out}
    n_comp = 0
    for row, boi, nl in zip(docs.tokens.tolist(), docs.boi.tolist(), docs.no_loss, strict=True):
        row = row[: row.index(v.EOS) + 1]
        assert row[0] == v.BOS and row[boi] == v.BOI and row[boi + 1 + mi.IMAGE_LEN] == v.EOI
        assert all(v.image_offset <= t < v.size for t in row[boi + 1 : boi + 1 + mi.IMAGE_LEN])
        if row.count(v.BOI) == 1:  # a single-image document: every token is a target
            assert not nl.any()
            continue
        n_comp += 1
        assert row.count(v.BOI) == 3 and len(row) == mi.MAX_LEN - 4 * (variant == "direct")
        assert boi == len(row) - mi.IMAGE_LEN - 3  # the answer's span
        assert int(nl.sum()) == boi - 4 * (variant == "think")  # the prompt carries no loss
        if variant == "think":
            words = v.decode_text(row[boi - 4 : boi])
            assert words.startswith("THINK") and words.endswith("ENDTHINK")
            shape, colour = words.split()[1:3]
            assert (S.SHAPES.index(shape), S.COLOURS.index(colour)) not in held
    assert 0 < n_comp < 64


def test_held_out_answers_never_drawn_in_training(v):
    """The answer image of every training composition shows a trained (shape, colour)."""
    from generative.discrete.data.checker import check
    from generative.discrete.data.patch_tokenizer import PatchTokenizer

    split = mi.split_combos(0)
    docs = mi.corpus(v, split, "direct", 200, p_single=0.0, seed=9)
    spans = docs.tokens[torch.arange(200)[:, None], docs.boi[:, None] + 1 + torch.arange(64)]
    res = check(PatchTokenizer().decode(spans - v.image_offset))
    assert res.valid.all()
    pairs = np.stack([res.attributes["shape"], res.attributes["colour"]], 1).tolist()
    drawn = set(map(tuple, pairs))
    assert drawn.isdisjoint(map(tuple, split.held_out.tolist()))
    assert drawn == set(map(tuple, split.trained.tolist()))  # 200 draws cover all 12


def test_scoring_is_exact_on_hand_built_answers():
    t = mi.make_tasks(64, mi.split_combos(0).held_out, seed=2)
    truth = np.stack([t.answer["shape"], t.answer["colour"]], 1)
    right = mi.score_drawings(t.images("answer"), t, truth)
    assert right["correct"] == right["in_place"] == right["trace_correct"] == 1.0
    assert right["follows_trace"] == 1.0
    # copying the first image is right exactly when it already shows the answer's attributes
    copy = mi.score_drawings(t.images("first"), t)
    same = (t.first["shape"] == t.answer["shape"]) & (t.first["colour"] == t.answer["colour"])
    assert copy["correct"] == pytest.approx(same.mean()) and copy["correct"] < 1.0
    # one pixel off: not a clean scene, so wrong however close
    images = t.images("answer")
    images[:, 0, 0] = 7
    assert mi.score_drawings(images, t)["valid"] == 0.0
    # a wrong trace followed faithfully: wrong answer, right trace-following
    wrong = truth.copy()
    wrong[:, 1] = (wrong[:, 1] + 1) % 4
    recoloured = S.render(t.answer["shape"], wrong[:, 1], *(t.answer[k] for k in mi.KEYS[2:]))
    r = mi.score_drawings(recoloured, t, wrong)
    assert r["correct"] == r["trace_correct"] == 0.0 and r["follows_trace"] == 1.0
    assert r["shape_right"] == 1.0 and r["colour_right"] == 0.0


def test_parse_reads_trace_and_the_span_after_the_prompt(v):
    t = mi.make_tasks(1, mi.split_combos(0).trained, seed=4)
    head = mi.task_heads(v, t)[0]
    answer = mi.encode_scenes(v, t.images("answer"))[0]
    doc = mi.composition_document(v, head, answer, 2, 1, "think")
    prompt = mi.composition_prompt(v, head, "think")
    span, trace = mi.parse(v, doc, len(prompt))
    assert span == answer and trace == (2, 1)
    direct = mi.composition_document(v, head, answer, 2, 1, "direct")
    span, trace = mi.parse(v, direct, len(mi.composition_prompt(v, head, "direct")))
    assert span == answer and trace == (-1, -1)
    assert mi.parse(v, direct[:-10], len(head) + 1)[0] is None  # an unfinished span


def check_structure(out: dict):
    for variant in ("direct", "think"):
        for split in ("trained", "held_out"):
            r = out["results"][variant][split]
            assert r["correct"] <= min(r["shape_right"], r["colour_right"]) <= r["valid"]
            assert r["in_place"] <= r["correct"] and r["n"] == out["budget"]["n_eval"]
            assert ("trace_correct" in r) == (variant == "think")
        assert out["training"][variant]["steps"] == out["budget"]["steps"]
    for split in ("trained", "held_out"):
        assert out["floors"][split]["truth"]["correct"] == 1.0
    combos = out["combos"]
    assert {tuple(p) for p in combos["trained"]}.isdisjoint(map(tuple, combos["held_out"]))


def test_quick_experiment_runs_end_to_end(tmp_path, monkeypatch):
    from benchmarks import exp42_multi_image as exp

    monkeypatch.setenv("GENERATIVE_EXP42_BUDGET", "quick")
    monkeypatch.setenv("GENERATIVE_EXP42_OUT", str(tmp_path))
    exp.main()
    out = json.loads((tmp_path / "exp42_multi_image_quick.json").read_text())
    assert (tmp_path / "exp42_multi_image_quick.png").stat().st_size > 0
    check_structure(out)
    assert out["budget"]["name"] == "quick"


@pytest.mark.skipif(not RESULT.exists(), reason="exp42 has not been run")
def test_committed_results_keep_the_invariants():
    out = json.loads(RESULT.read_text())
    check_structure(out)
    assert out["budget"]["name"] == "cpu5"
    assert out["max_train_cpu_s"] <= 5 * 60  # each model within the 5 CPU-minute budget
