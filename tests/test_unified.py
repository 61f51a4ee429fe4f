"""The unified transformer: vocabulary, documents, attention masks, grammar-constrained decoding."""

import itertools

import numpy as np
import pytest
import torch

from generative.discrete.data import shapes as S
from generative.discrete.data.glyphs import glyph_tokenizer, make_glyphs
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.errors import UserError
from generative.unified.decode import Grammar, generate, image_spans, texts_after_image
from generative.unified.documents import I2T, T2I, make_documents, prompts_i2t, prompts_t2i
from generative.unified.model import UnifiedConfig, UnifiedTransformer, showo_mask
from generative.unified.showo import showo_generate
from generative.unified.vocab import SPECIALS, Vocab

N_IMG = 64  # tokens per 16x16 image


@pytest.fixture(scope="module")
def v():
    return Vocab()


@pytest.fixture(scope="module")
def scenes():
    d = S.make_shapes(12, seed=3, two_objects=True)
    return d, PatchTokenizer().encode(d.images)


def tiny_model(v, seed=0, max_len=96):
    torch.manual_seed(seed)
    return UnifiedTransformer(UnifiedConfig(v.size, max_len, hidden=32, depth=2, heads=2)).eval()


# region: vocabulary
def all_captions():
    one = [S.caption(s, c, q) for s, c, q in itertools.product(range(4), range(4), range(4))]
    two = [
        S.caption_pair((s0, s1), (c0, c1), (q0, q1))
        for s0, s1, c0, c1, q0, q1 in itertools.product(*[range(4)] * 4, (0, 2), (1, 3))
    ]
    return one + two


def test_every_caption_round_trips(v):
    caps = all_captions()
    assert len(caps) == 64 + 256 * 4
    for c in caps:
        ids = v.encode_text(c)
        assert all(v.image_offset > i >= len(SPECIALS) for i in ids)
        assert v.decode_text(ids) == c


def test_arithmetic_and_task_words_round_trip(v):
    for text in ("draw 3 + 4", "describe", "edit", "99 - 12 = 87", "draw 0"):
        assert v.decode_text(v.encode_text(text)) == text


def test_id_spaces_are_disjoint_and_image_codes_round_trip(v):
    assert len(set(v.text)) == len(v.text) == v.image_offset
    assert v.size == v.image_offset + PatchTokenizer().vocab_size
    codes = torch.arange(v.image_codes)[None]
    ids = v.encode_image(codes)
    assert bool(v.is_image(ids).all()) and not bool(v.is_image(v.text_ids()).any())
    assert torch.equal(v.decode_image(ids), codes)
    glyph = glyph_tokenizer().encode(make_glyphs(5, max_value=99).images)
    assert torch.equal(v.decode_image(v.encode_image(glyph)), glyph)


def test_unknown_word_lists_the_vocabulary(v):
    with pytest.raises(UserError, match="unknown word 'purple'.*square"):
        v.encode_text("a purple square")
    with pytest.raises(UserError, match="unknown word 'BOI'"):
        v.encode_text("BOI")  # markers are not prompt words
    with pytest.raises(UserError):
        v.encode_image([v.image_codes])


# endregion


# region: documents
def test_documents_layout_and_loss_mask(v, scenes):
    d, codes = scenes
    dirs = np.array([T2I, I2T] * 6)
    docs = make_documents(v, d.captions, codes, dirs)
    for i in range(len(docs)):
        cap, img = v.encode_text(d.captions[i]), v.encode_image(codes[i]).tolist()
        if dirs[i] == T2I:
            want = [v.BOS, *cap, v.BOI, *img, v.EOI, v.EOS]
        else:
            want = [v.BOS, v.BOI, *img, v.EOI, *cap, v.EOS]
        row = docs.tokens[i].tolist()
        assert row[: len(want)] == want and set(row[len(want) :]) <= {v.PAD}
        assert row[int(docs.boi[i])] == v.BOI
        span = docs.image_span()[i]
        assert span.sum() == N_IMG and docs.tokens[i][span].tolist() == img
        x, y, keep = docs.inputs_targets(v.PAD)
        assert int(keep[i].sum()) == len(want) - 1  # every token after BOS is a target
        assert torch.equal(y[i][keep[i]], torch.tensor(want[1:]))


def test_drop_caption_gives_the_unconditional_document(v, scenes):
    d, codes = scenes
    docs = make_documents(v, d.captions[:2], codes[:2], np.array([T2I, I2T]), np.array([1, 1]))
    assert docs.tokens[0, :2].tolist() == [v.BOS, v.BOI] and int(docs.boi[0]) == 1
    assert v.EOS in docs.tokens[1, N_IMG + 3 :].tolist()  # image -> text keeps its caption
    assert int((docs.tokens[1] != v.PAD).sum()) > N_IMG + 4


# endregion


# region: attention
def test_showo_mask_is_causal_outside_and_full_inside():
    span = torch.zeros(1, 8, dtype=torch.bool)
    span[0, 2:5] = True
    m = showo_mask(span)[0]
    for i, j in itertools.product(range(8), range(8)):
        assert bool(m[i, j]) == (j <= i or (2 <= i < 5 and 2 <= j < 5))


def test_perturbing_a_later_image_token(v, scenes):
    d, codes = scenes
    docs = make_documents(v, d.captions[:1], codes[:1], np.array([T2I]))
    net, span = tiny_model(v), docs.image_span()
    b = int(docs.boi[0])
    x2 = docs.tokens.clone()
    x2[0, b + 40] = v.MASK  # a later image token
    for s, sees in ((None, False), (span, True)):
        a, c = net(docs.tokens, s), net(x2, s)
        changed = (a - c).abs().amax(-1)[0]  # (L,)
        assert bool(changed[: b + 1].max() < 1e-6)  # text and BOI before it: never
        assert bool(changed[b + 1 : b + 40].max() > 1e-4) == sees  # earlier image tokens
        assert bool(changed[b + 40 :].min() > 1e-6)  # itself and later ones: always


# endregion


# region: grammar
def assert_grammatical(v, gen, image_len, codes=None):
    """Every BOI opens exactly image_len image codes and EOI; outside: words, BOI, EOS."""
    codes = v.image_codes if codes is None else codes
    text_ok = set(v.text_ids().tolist()) | {v.BOS, v.BOI, v.EOS}
    for row, n in zip(gen.tokens.tolist(), gen.lengths.tolist(), strict=True):
        i = 0
        while i < n:
            if row[i] == v.BOI:
                span = row[i + 1 : i + 1 + image_len]
                complete = i + 1 + image_len < n
                assert len(span) == min(image_len, n - i - 1)
                assert all(v.image_offset <= t < v.image_offset + codes for t in span)
                if complete:
                    assert row[i + 1 + image_len] == v.EOI
                i += image_len + 2
            else:
                assert row[i] in text_ok
                i += 1
        assert set(row[n:]) <= {v.PAD}


class Adversary(torch.nn.Module):
    """Wants EOI and EOS inside an image, image codes and EOI outside: only the grammar stops it."""

    def __init__(self, v):
        super().__init__()
        self.v = v

    def forward(self, tokens, span=None):
        out = torch.zeros(*tokens.shape, self.v.size)
        out[..., self.v.EOI] = out[..., self.v.EOS] = 50.0
        out[..., self.v.image_offset + 7] = 40.0
        return out


@pytest.mark.parametrize("model", ["untrained", "adversary"])
def test_grammar_makes_every_image_span_exact(v, scenes, model):
    d, codes = scenes
    net = tiny_model(v) if model == "untrained" else Adversary(v)
    g = torch.Generator().manual_seed(0)
    prompts = prompts_t2i(v, d.captions[:4]) + prompts_i2t(v, codes[:2]) + [[v.BOS]] * 2
    gen = generate(net, v, prompts, N_IMG, max_len=96, generator=g)
    assert_grammatical(v, gen, N_IMG)
    span, ok = image_spans(gen, v, N_IMG)
    assert bool(ok[:6].all())  # every prompt that opened an image got a complete one
    assert torch.equal(span[4:6], codes[:2])  # the given images are untouched
    assert all(isinstance(t, str) for t in texts_after_image(gen, v))


def test_grammar_limits_codes_and_guidance_keeps_it(v):
    net, g = tiny_model(v, seed=1), torch.Generator().manual_seed(1)
    prompts = [[v.BOS, *v.encode_text("draw 7"), v.BOI]] * 3
    gen = generate(net, v, prompts, N_IMG, 80, image_codes=16, guidance=3.0, generator=g)
    assert_grammatical(v, gen, N_IMG, codes=16)
    assert bool(image_spans(gen, v, N_IMG)[1].all())


def test_grammar_state_after_a_prompt(v):
    gr = Grammar(v, image_len=2, rows=2)
    gr.read([[v.BOS, v.BOI], [v.BOS, v.BOI, v.image_offset, v.image_offset]])
    allowed = gr.allowed()
    assert torch.equal(allowed[0], v.is_image(torch.arange(v.size)))
    assert allowed[1].nonzero()[:, 0].tolist() == [v.EOI]


# endregion


def test_showo_generate_writes_exact_spans_and_keeps_known_codes(v, scenes):
    d, codes = scenes
    net, g = tiny_model(v), torch.Generator().manual_seed(0)
    known = codes[:3].clone()
    known[:, 32:] = v.image_codes  # re-write the bottom half only
    out, calls = showo_generate(
        net,
        v,
        prompts_t2i(v, d.captions[:3]),
        N_IMG,
        steps=4,
        guidance=2.0,
        known=known,
        generator=g,
    )
    assert out.shape == (3, N_IMG) and bool((out >= 0).all() & (out < v.image_codes).all())
    assert torch.equal(out[:, :32], codes[:3, :32]) and calls == 8
