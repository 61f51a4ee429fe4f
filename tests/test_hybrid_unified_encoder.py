"""Encoder (f): the unified model's hidden states as a frozen text encoder of the pipeline."""

import pytest
import torch

from generative.hybrid import captions as C
from generative.hybrid import unified_encoder as U
from generative.hybrid.encoders import FROZEN, make_encoder
from generative.hybrid.train import HybridConfig, build, load_hybrid, make_corpus, train_hybrid
from generative.unified.model import causal_mask
from generative.unified.vocab import Vocab

TINY = dict(
    encoder="unified", steps=4, pretrain_steps=3, batch_size=8, hidden=16, depth=1,
    text_dim=16, text_depth=1, heads=2, n_train=32,
)  # fmt: skip


def own_hidden(model, ids: list[int]) -> torch.Tensor:
    """The unified model's last hidden states (L, D) of one unpadded sequence, computed here
    from its parts: embeddings, causal blocks, final LayerNorm."""
    x = torch.tensor([ids])
    h = model.tok_embed(x) + model.pos_embed[:, : x.shape[1]]
    for block in model.blocks:
        h = block(h, causal_mask(x.shape[1])[None, None])
    return model.ln_f(h)[0]


def test_every_hybrid_word_has_a_unified_id_and_the_prefix_is_bos_caption():
    v = Vocab()
    table = U.word_table(v)
    assert [v.text[i] for i in table[1:]] == list(C.WORDS[1:]) and table[C.PAD] == v.PAD
    enc = U.UnifiedEncoder(16, 1, 2)
    cap = "a red square on the left, level with a blue circle on the right"
    assert enc.prefix(C.encode([cap]))[0].tolist() == [v.BOS, *v.encode_text(cap)]


@torch.no_grad()
def test_features_are_the_unified_models_own_hidden_states_at_the_words():
    torch.manual_seed(0)
    enc = U.UnifiedEncoder(16, 2, 2).eval()
    texts = C.swap_pairs(2, seed=3).text  # 14- and 15-word captions in one padded batch
    texts[0] = "a red square on the left, level with a blue circle on the right"
    caps = C.encode(texts)
    feats = enc(caps)
    v = Vocab()
    for i, t in enumerate(texts):
        words = v.encode_text(t)
        want = own_hidden(enc.model, [v.BOS, *words])[1:]  # (n words, D)
        assert feats.mask[i].sum() == len(words)
        torch.testing.assert_close(feats.seq[i, : len(words)], want)
    # what the unified model's softmax reads: its head on the features gives its logits
    logits = enc.model(enc.prefix(caps))[:, 1:]
    torch.testing.assert_close(enc.model.head(feats.seq), logits)


@torch.no_grad()
def test_swap_partners_get_different_features():
    torch.manual_seed(0)
    enc = U.UnifiedEncoder(16, 1, 2).eval()
    caps = C.swap_pairs(8, seed=1)
    seq = enc(caps).seq
    a, b = seq[0::2], seq[1::2]
    assert (a - b).abs().amax(dim=(1, 2)).min() > 1e-3  # every pair, not only on average


def test_frozen_unified_encoder_does_not_change_while_the_generator_trains(tmp_path):
    assert "unified" in FROZEN
    cfg = HybridConfig(**TINY)
    before, notes = build(cfg, make_corpus(cfg.n_train, cfg.seed))  # the run's own encoder
    fresh = make_encoder("unified", cfg.text_dim, cfg.text_depth, cfg.heads).state_dict()
    assert set(notes) >= {"i2t_exact_caption", "t2i_token_accuracy"}
    model, state = train_hybrid(cfg, tmp_path / "run")
    assert not any(p.requires_grad for p in model.encoder.parameters())
    after = model.state_dict()
    enc0 = {k: v for k, v in before.state_dict().items() if k.startswith("encoder.")}
    assert all(torch.equal(v, after[k]) for k, v in enc0.items())
    # pre-training did move it away from a fresh model (the freezing is not of an empty model)
    assert any(not torch.equal(v, after["encoder." + k]) for k, v in fresh.items())
    gen0 = {k: v for k, v in before.state_dict().items() if k.startswith("generator.")}
    assert any(not torch.equal(v, after[k]) for k, v in gen0.items())
    assert state["notes"] == notes


def test_save_and_load_give_identical_features_without_pre_training(tmp_path, monkeypatch):
    cfg = HybridConfig(**TINY)
    model, _ = train_hybrid(cfg, tmp_path / "run")

    def refuse(*_a, **_k):
        raise AssertionError("load_hybrid must not pre-train the encoder")

    monkeypatch.setattr(U, "pretrain_unified", refuse)
    monkeypatch.setattr("generative.hybrid.pretrain.pretrain_unified", refuse)
    loaded, cfg2 = load_hybrid(tmp_path / "run")
    assert cfg2.encoder == "unified"
    caps = C.swap_pairs(3, seed=5)
    with torch.no_grad():
        a, b = model.encoder(caps), loaded.encoder(caps)
    assert torch.equal(a.seq, b.seq) and torch.equal(a.mask, b.mask)


def test_command_line_trains_the_unified_encoder(tmp_path, capsys):
    from generative.cli import main

    run = tmp_path / "hy"
    tiny = (
        "--steps 2 --pretrain-steps 2 --batch-size 8 --hidden 16 --depth 1 --text-dim 16 "
        "--text-depth 1 --heads 2 --n-train 32"
    ).split()
    assert main(["hybrid", "train", "--encoder", "unified", "--out", str(run), *tiny]) == 0
    out = capsys.readouterr().out
    assert "trained masked unified/xattn" in out and "i2t_exact_caption" in out
    assert (run / "config.json").exists()


def test_a_size_the_model_cannot_take_is_refused():
    with pytest.raises(ValueError, match="not divisible by heads"):
        make_encoder("unified", 18, 1, 4)
