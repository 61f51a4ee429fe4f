"""Think-then-draw documents on glyphs: layouts, held-out pairs, counterfactual traces."""

import numpy as np
import pytest
import torch

from generative.discrete.data.glyphs import check_glyphs, glyph_tokenizer
from generative.unified.decode import generate, image_spans
from generative.unified.model import UnifiedConfig, UnifiedTransformer
from generative.unified.think import IMAGE_CODES, composite_prompt, split_pairs, think_corpus
from generative.unified.vocab import Vocab


@pytest.fixture(scope="module")
def v():
    return Vocab()


def rows_of(docs, v):
    return [[t for t in r if t != v.PAD] for r in docs.tokens.tolist()]


@pytest.mark.parametrize("variant", ["direct", "think", "counterfactual"])
def test_documents_show_what_their_text_says(v, variant):
    split = split_pairs(9, 0.5, seed=0)
    held = {tuple(p) for p in split.held_out.tolist()}
    docs = think_corpus(v, split, variant, 120, p_counterfactual=0.5, seed=1)
    span = docs.image_span()
    n_counter = 0
    for i, row in enumerate(rows_of(docs, v)):
        words = v.decode_text(row[1:]).split()
        if v.BOI not in row:  # arithmetic: a + b = c
            a, _, b, _, c = (words[k] for k in range(5))
            assert int(a) + int(b) == int(c) and words[5] == "EOS" and not span[i].any()
            continue
        codes = docs.tokens[i][span[i]] - v.image_offset
        assert span[i].sum() == 64 and bool((codes < IMAGE_CODES).all())
        drawn = int(check_glyphs(glyph_tokenizer().decode(codes[None])).attributes["value"][0])
        if len(words) > 1 and words[2] == "+":  # composite: draw a + b ...
            a, b = int(words[1]), int(words[3])
            assert (a, b) not in held  # held-out pairs are never drawn from a composite prompt
            assert ("THINK" in words) == (variant != "direct")
            if variant == "direct":
                assert drawn == a + b
                continue
            c = int(words[words.index("THINK") + 5])
            assert drawn == c  # the image shows the trace's answer
            n_counter += c != a + b
            assert bool(docs.no_loss[i].any()) == (c != a + b)
            if c != a + b:  # the wrong answer is not a target; everything else is
                assert docs.tokens[i][docs.no_loss[i]].tolist() == v.encode_text(str(c))
        else:  # drawing: draw c
            assert drawn == int(words[1])
    assert (n_counter > 0) == (variant == "counterfactual")


def test_forced_trace_prompt_and_grammar(v):
    torch.manual_seed(0)
    net = UnifiedTransformer(UnifiedConfig(v.size, 96, hidden=32, depth=1, heads=2)).eval()
    prompts = [composite_prompt(v, 3, 4, "think", c=9), composite_prompt(v, 3, 4, "direct")]
    assert v.decode_text(prompts[0]) == "BOS draw 3 + 4 THINK 3 + 4 = 9 ENDTHINK BOI"
    assert v.decode_text(composite_prompt(v, 3, 4, "think")) == "BOS draw 3 + 4 THINK"
    gen = generate(
        net, v, prompts, 64, 96, image_codes=IMAGE_CODES, generator=torch.Generator().manual_seed(0)
    )
    codes, ok = image_spans(gen, v, 64)
    assert bool(ok.all()) and bool((codes < IMAGE_CODES).all())


def test_split_covers_every_pair_once():
    s = split_pairs(9, 0.3, seed=2)
    both = np.concatenate([s.trained, s.held_out])
    assert len(both) == 100 and len({tuple(p) for p in both.tolist()}) == 100
    assert len(s.held_out) == 30


def test_scoring_reads_the_trace_and_the_drawing(v):
    from generative.unified.decode import Generation
    from generative.unified.think_eval import drawn_values, trace_answers

    docs = think_corpus(v, split_pairs(9, 0.5), "counterfactual", 60, 0.5, seed=3, kinds=(2,))
    gen = Generation(docs.tokens, (docs.tokens != v.PAD).sum(1), 0)
    drawn, said = drawn_values(gen, v), trace_answers(gen, v)
    for i, row in enumerate(rows_of(docs, v)):
        words = v.decode_text(row).split()
        assert said[i] == int(words[words.index("THINK") + 5]) == drawn[i]


def test_think_plumbing_trains_and_scores(v):
    from generative.unified.think_eval import (
        score_composite,
        score_forced,
        score_rewrite,
        train_think,
    )
    from generative.unified.train import UnifiedTrainConfig

    split = split_pairs(9, 0.5)
    cfg = UnifiedTrainConfig(steps=3, batch_size=8, hidden=32, depth=1, heads=2)
    model, state = train_think(cfg, split, "think")
    assert state["step"] == 3
    pairs = split.held_out[:4]
    for r in (
        score_composite(model, v, pairs, "think"),
        score_forced(model, v, pairs),
        score_rewrite(model, model, v, pairs),
    ):
        assert r["n"] == 4 and all(0.0 <= x <= 1.0 for k, x in r.items() if k != "n")
