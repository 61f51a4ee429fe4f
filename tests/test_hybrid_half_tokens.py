"""The half tokenizer (2 tokens a scene, each half's index among the clean halves) and the masked
generator over it: exact round trip, snapping, a train/load/sample run, the flag's scope and
the caption oracle in half tokens."""

import numpy as np
import pytest

from generative.discrete.data.checker import check
from generative.discrete.data.shapes import make_shapes
from generative.errors import UserError
from generative.hybrid import captions as C
from generative.hybrid.evaluate import caption_oracle, oracle_bound, sample
from generative.hybrid.half_tokens import HalfTokenizer
from generative.hybrid.score import snap


def test_round_trip_is_exact_on_clean_two_object_scenes():
    s = make_shapes(256, seed=3, two_objects=True)
    tok = HalfTokenizer()
    t = tok.encode(s.images)
    assert t.shape == (256, 2) and 0 <= t.min() and t.max() < tok.vocab_size == 512
    assert (tok.decode(t) == s.images).all()
    assert (tok.encode(tok.decode(t)) == t).all()
    # each token names the half's own labels: shape, colour, row, jitter (same order each side)
    lab = snap(s.images).labels  # (N, 2, 5)
    assert (t.numpy() == tok.index(lab)).all()
    assert len(np.unique(t.numpy())) > 100  # not a constant map


def test_a_noisy_scene_decodes_to_its_snapped_scene():
    s = make_shapes(64, seed=5, two_objects=True)
    noisy = s.images.copy()
    rng = np.random.default_rng(0)
    for img in noisy:  # one pixel flipped in each half
        for half in (0, 1):
            y, x = rng.integers(0, 16), half * 8 + rng.integers(0, 8)
            img[y, x] = [0, 0, 0] if img[y, x].any() else [0, 0, 255]
    tok = HalfTokenizer()
    out = tok.decode(tok.encode(noisy))
    assert check(out, two_objects=True).valid.all()
    assert (out == s.images).all()  # one pixel off: the nearest clean half is the original
    assert (snap(out).labels == snap(noisy).labels).all()


def test_decode_refuses_codes_outside_the_clean_halves():
    with pytest.raises(UserError, match="0..511"):
        HalfTokenizer().decode(np.array([[3, 512]]))


def test_train_load_sample_with_half_tokens(tmp_path, capsys):
    from generative.cli import main
    from generative.hybrid.train import load_hybrid

    run = tmp_path / "half"
    tiny = "--steps 4 --batch-size 8 --hidden 16 --depth 1 --text-dim 16 --n-train 32".split()
    assert main(["hybrid", "train", "--encoder", "oracle", "--tokens", "half",
                 "--out", str(run), *tiny]) == 0  # fmt: skip
    model, cfg = load_hybrid(run)
    assert cfg.tokens == "half" and isinstance(model.tokenizer, HalfTokenizer)
    assert model.generator.cfg.seq_len == 2 and model.generator.cfg.vocab_size == 512
    images, calls = sample(model, C.swap_pairs(2), guidance=2.0, steps=2)
    assert images.shape == (4, 16, 16, 3) and calls == 4  # 2 rounds, two halves each
    assert check(images, two_objects=True).valid.all()  # any token pair is a clean scene
    assert main(["hybrid", "evaluate", str(run), "--pairs", "1", "--steps", "2"]) == 0
    assert '"tokens": "half"' in capsys.readouterr().out


def test_tokens_flag_is_refused_with_the_latent_generator(capsys):
    from generative.cli import main

    args = ["hybrid", "train", "--generator", "latent-fm", "--tokens", "half", "--dry-run"]
    assert main(args) == 2
    assert "--tokens" in capsys.readouterr().err
    from generative.hybrid.train import HybridConfig, check_sizes

    with pytest.raises(UserError, match="--tokens half"):
        check_sizes(HybridConfig(generator="latent-fm", tokens="half"))


def test_caption_oracle_in_half_tokens_decodes_only_clean_bound_scenes():
    tok = HalfTokenizer()
    s = make_shapes(12, seed=4, two_objects=True)
    caps = C.encode(s.captions)
    oracle = caption_oracle(caps, tok)
    assert oracle.scenes.shape[1] == 2
    assert oracle.consistent(tok.encode(s.images), caps.attrs).all()
    r = oracle_bound(C.swap_pairs(4, seed=2), tok=tok, steps=2)
    assert r["strict_valid"] == 1.0 and r["binding"] == 1.0 and r["relation"] == 1.0
