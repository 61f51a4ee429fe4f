"""The two-tower pipeline: captions, the snapping checker, encoders, conditioning, guidance,
caption dropout, frozen encoders, the caption oracle, and a short end-to-end run."""

import numpy as np
import pytest
import torch

from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.discrete.data.shapes import make_shapes
from generative.errors import UserError
from generative.hybrid import captions as C
from generative.hybrid.encoders import BagOfWords, Features, TextTransformer, make_encoder
from generative.hybrid.evaluate import caption_oracle, evaluate, oracle_bound, sample
from generative.hybrid.generator import GeneratorConfig, MaskedGenerator, guided_logits
from generative.hybrid.score import score, snap
from generative.hybrid.train import HybridConfig, make_corpus, train_hybrid


def scenes(n=64, seed=0):
    s = make_shapes(n, seed=seed, two_objects=True)
    return s, C.scene_attrs(s.labels)


def test_captions_round_trip_and_match_the_data_set():
    s, attrs = scenes()
    caps = C.encode(s.captions)  # the data set's own captions parse
    assert (caps.attrs.numpy() == attrs).all()
    assert [C.caption_text(a) for a in attrs] == s.captions


def test_bad_captions_name_the_problem():
    with pytest.raises(UserError, match="unknown word 'purple'.*vocabulary"):
        C.encode(["a purple square on the left, above a red circle on the right"])
    with pytest.raises(UserError, match="grammar"):
        C.encode(["a red square on the right, above a red circle on the left"])
    with pytest.raises(UserError, match="no caption"):
        C.encode([])


def test_swap_pairs_share_their_bag_of_words_and_differ_in_binding():
    caps = C.swap_pairs(50, seed=1)
    for a, b in zip(caps.text[::2], caps.text[1::2], strict=True):
        assert sorted(a.split()) == sorted(b.split()) and a != b
    a = caps.attrs.numpy()
    assert (a[0::2, 1] == a[1::2, 3]).all() and (a[0::2, 0] == a[1::2, 0]).all()


def test_checker_is_exact_on_clean_scenes_and_snaps_small_noise():
    s, attrs = scenes(128)
    r = score(s.images, attrs)
    assert r["strict_valid"] == 1.0 and r["binding"] == 1.0 and r["all"] == 1.0
    noisy = s.images.copy()
    rng = np.random.default_rng(0)
    for img in noisy:  # one pixel changed in each half: lit to black, black to red
        for half in (0, 1):
            y, x = rng.integers(0, 16), half * 8 + rng.integers(0, 8)
            img[y, x] = [0, 0, 0] if img[y, x].any() else [255, 0, 0]
    r = score(noisy, attrs)
    assert r["strict_valid"] == 0.0 and r["near_valid"] == 1.0
    assert r["shape"] == 1.0 and r["colour"] == 1.0 and r["binding"] == 1.0
    assert (snap(noisy).distance == 1).all()


def test_swap_pair_colour_of_a_fixed_drawing_is_at_most_half():
    """The bag-of-words ceiling: one image drawn for both captions of a pair."""
    caps = C.swap_pairs(20, seed=2)
    s = make_shapes(1, seed=0, two_objects=True)
    images = np.repeat(s.images, len(caps), axis=0)
    assert score(images, caps.attrs.numpy(), pairs=True)["swap_colour"] <= 0.5


def test_bag_of_words_features_are_identical_for_swap_pairs():
    caps = C.swap_pairs(10, seed=3)
    bow = BagOfWords(16)
    f = bow(caps)
    assert torch.allclose(f.pooled[0::2], f.pooled[1::2])
    tt = TextTransformer(16, depth=1)  # positions: swap partners differ
    g = tt(caps)
    assert not torch.allclose(g.pooled[0::2], g.pooled[1::2], atol=1e-4)


def generator(conditioning="xattn", text_dim=16):
    tok = PatchTokenizer()
    cfg = GeneratorConfig(tok.vocab_size, tok.seq_len, text_dim, conditioning, 32, 2, 4)
    torch.manual_seed(0)
    net = MaskedGenerator(cfg).eval()
    for p in net.parameters():  # leave adaLN-Zero's identity start: conditioning must act
        torch.nn.init.normal_(p, std=0.1)
    return net


def test_cross_attention_to_a_constant_sequence_is_a_constant_condition():
    """Every key and value the same vector: attention returns it whatever the weights or the
    length, so a sequence of copies acts like the vector alone."""
    net = generator("xattn")
    x = torch.randint(0, 61, (3, 64))
    v = torch.randn(3, 1, 16)
    one = net(x, Features(v, torch.ones(3, 1, dtype=torch.bool)))
    many = net(x, Features(v.expand(3, 7, 16), torch.ones(3, 7, dtype=torch.bool)))
    assert torch.allclose(one, many, atol=1e-5)


@pytest.mark.parametrize("conditioning", ["xattn", "pooled"])
def test_guidance_weight_one_is_the_conditional_model(conditioning):
    net = generator(conditioning)
    x = torch.randint(0, 62, (4, 64))
    f = Features(torch.randn(4, 5, 16), torch.ones(4, 5, dtype=torch.bool))
    with torch.no_grad():
        assert torch.allclose(guided_logits(net, x, f, 1.0), net(x, f), atol=1e-5)
        u = net(x, net.null_features(4))
        w0 = guided_logits(net, x, f, 0.0)  # w = 0: the unconditional model
        assert torch.allclose(w0, u, atol=1e-4)
        assert not torch.allclose(guided_logits(net, x, f, 3.0), net(x, f), atol=1e-3)


@pytest.mark.parametrize("conditioning", ["xattn", "pooled"])
def test_caption_dropout_uses_the_null_features(conditioning):
    net = generator(conditioning)
    x = torch.randint(0, 62, (4, 64))
    f = Features(torch.randn(4, 5, 16), torch.ones(4, 5, dtype=torch.bool))
    drop = torch.tensor([True, False, True, False])
    with torch.no_grad():
        out = net(x, net.drop(f, drop))
        null = net(x, net.null_features(4))
        assert torch.allclose(out[drop], null[drop], atol=1e-5)
        assert torch.allclose(out[~drop], net(x, f)[~drop], atol=1e-5)


def test_oracle_encoder_hands_over_the_parse():
    caps = C.swap_pairs(4)
    f = make_encoder("oracle", 8)(caps)
    assert f.seq.shape == (8, 5, 8) and f.mask.all()


def test_caption_oracle_admits_exactly_the_captioned_scenes():
    s, attrs = scenes(16, seed=4)
    caps = C.encode(s.captions)
    oracle = caption_oracle(caps)
    tokens = PatchTokenizer().encode(s.images)
    assert oracle.consistent(tokens, caps.attrs).all()  # each scene fits its own caption
    other = torch.roll(caps.attrs, 1, dims=0)
    differs = (other != caps.attrs).any(1)
    ok = oracle.consistent(tokens, other)  # a scene does not fit another caption
    assert not ok[differs].any()


def test_the_exact_posterior_binds_perfectly_when_decoded_one_token_at_a_time():
    caps = C.swap_pairs(3, seed=5)
    r = oracle_bound(caps, decoder="adaptive", entropy_budget=0.0)  # one token a round
    assert r["strict_valid"] == 1.0 and r["binding"] == 1.0 and r["pair_both"] == 1.0


def test_frozen_encoder_weights_do_not_change_and_the_generator_trains(tmp_path):
    cfg = HybridConfig(
        encoder="random", steps=6, batch_size=8, hidden=16, depth=1, text_dim=16, n_train=32,
        text_depth=1,
    )  # fmt: skip
    corpus = make_corpus(cfg.n_train, cfg.seed)
    from generative.hybrid.train import build

    before, _ = build(cfg, corpus)  # the same initial model as the run's
    model, state = train_hybrid(cfg, tmp_path / "run")
    enc0 = {k: v for k, v in before.state_dict().items() if k.startswith("encoder.")}
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in enc0.items())
    gen0 = {k: v for k, v in before.state_dict().items() if k.startswith("generator.")}
    assert any(not torch.equal(v, after[k]) for k, v in gen0.items())
    assert (tmp_path / "run" / "config.json").exists() and state["step"] == 6


def test_end_to_end_sample_and_evaluate_shapes():
    cfg = HybridConfig(
        encoder="bow", steps=3, batch_size=8, hidden=16, depth=1, text_dim=16, n_train=32
    )
    model, _ = train_hybrid(cfg)
    images, calls = sample(model, C.swap_pairs(2), guidance=2.0, steps=4)
    assert images.shape == (4, 16, 16, 3) and images.dtype == np.uint8 and calls == 8
    r = evaluate(model, n_pairs=2, steps=4)
    assert 0.0 <= r["binding"] <= r["shape"] + 1e-9 and r["calls"] == 4


def test_command_line_train_sample_evaluate(tmp_path, capsys):
    from generative.cli import main

    run = tmp_path / "hy"
    tiny = "--steps 3 --batch-size 8 --hidden 16 --depth 1 --text-dim 16 --n-train 32".split()
    assert main(["hybrid", "train", "--encoder", "oracle", "--out", str(run), *tiny]) == 0
    cap = "a red square on the left, above a blue circle on the right"
    png = tmp_path / "s.png"
    args = ["hybrid", "sample", str(run), "--caption", cap, "--n", "2", "--steps", "4"]
    assert main([*args, "--out", str(png)]) == 0 and png.stat().st_size > 0
    assert main(["hybrid", "evaluate", str(run), "--pairs", "1", "--steps", "2"]) == 0
    assert '"binding"' in capsys.readouterr().out
    assert main(["hybrid", "sample", str(run), "--caption", "a red blob"]) == 2
    assert "unknown word 'blob'" in capsys.readouterr().err
    assert main(["hybrid", "train", "--encoder", "oracle", "--out", str(run), *tiny]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_exp50_quick_budget_writes_its_table_and_figure(tmp_path, monkeypatch):
    """Every arm in the table (the seeded ones over both quick seeds, as medians), the figure,
    and a second run that reads every arm from the cache instead of training it."""
    import json

    from benchmarks import exp50_hybrid

    monkeypatch.setenv("GENERATIVE_HYBRID_BUDGET", "quick")
    monkeypatch.setenv("GENERATIVE_HYBRID_OUT", str(tmp_path))
    monkeypatch.setenv("GENERATIVE_HYBRID_CACHE", str(tmp_path / "cache"))
    exp50_hybrid.main()
    res = json.loads((tmp_path / "exp50_hybrid_quick.json").read_text())
    assert set(res["table"]) == {exp50_hybrid.arm_name(*a) for a in exp50_hybrid.ARMS} | {
        "unified-chameleon",
        "unified-showo",
    }
    for name, scores in res["table"].items():
        assert 0 <= scores["1.0"]["binding"] <= scores["1.0"]["shape"] + 1e-9
        seeded = any(exp50_hybrid.arm_name(*a) == name for a in exp50_hybrid.SEEDED)
        assert scores["seeds"] == ([0, 1] if seeded else [0])
        by_seed = scores["1.0"]["by_seed"]["binding"]
        assert min(by_seed) <= scores["1.0"]["binding"] <= max(by_seed)
    assert (tmp_path / "exp50_hybrid_quick.png").stat().st_size > 0
    cached = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache" / "quick").glob("*.json")}
    assert len(cached) == len(res["arms"]) + len(res["unified"])
    exp50_hybrid.main()  # an arm that trained again would rewrite its cache file
    assert {p: p.stat().st_mtime_ns for p in cached} == cached
    again = json.loads((tmp_path / "exp50_hybrid_quick.json").read_text())
    assert again["table"] == res["table"]
