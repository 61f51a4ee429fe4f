"""Latent flow matching behind the two-tower interface: guidance, cross-attention, the
autoencoder's round trip, a short end-to-end run and the command line."""

import numpy as np
import pytest
import torch

from generative.discrete.data.shapes import make_shapes, to_float
from generative.hybrid import captions as C
from generative.hybrid.encoders import Features
from generative.hybrid.evaluate import sample
from generative.hybrid.latent_ae import AEConfig, HalfAutoencoder, ceiling, train_autoencoder
from generative.hybrid.latent_flow import LatentFlow, LatentFlowConfig, guided_velocity
from generative.hybrid.train import HybridConfig, load_hybrid, train_hybrid

TINY = dict(steps=3, batch_size=8, hidden=16, depth=1, text_dim=16, n_train=32, ae_steps=3)


def flow(conditioning="xattn"):
    torch.manual_seed(0)
    net = LatentFlow(LatentFlowConfig(4, (4, 4), 16, conditioning, 32, 2, 4)).eval()
    for p in net.parameters():  # leave adaLN-Zero's zero start: conditioning must act
        torch.nn.init.normal_(p, std=0.1)
    return net


def inputs(B=4, L=5):
    z, t = torch.randn(B, 4, 4, 4), torch.rand(B)
    return z, t, Features(torch.randn(B, L, 16), torch.ones(B, L, dtype=torch.bool))


@pytest.mark.parametrize("conditioning", ["xattn", "pooled"])
def test_guidance_weight_one_is_conditional_and_zero_unconditional(conditioning):
    net = flow(conditioning)
    z, t, f = inputs()
    with torch.no_grad():
        v_c, v_u = net(z, t, f), net(z, t, net.null_features(4))
        assert torch.allclose(guided_velocity(net, f, 1.0)(z, t), v_c, atol=1e-5)
        assert torch.allclose(guided_velocity(net, f, 0.0)(z, t), v_u, atol=1e-5)
        assert torch.allclose(guided_velocity(net, f, 3.0)(z, t), v_u + 3 * (v_c - v_u), atol=1e-4)
        assert not torch.allclose(v_c, v_u, atol=1e-3)


def test_cross_attention_to_a_constant_sequence_is_a_constant_condition():
    net = flow("xattn")
    z, t, _ = inputs(3)
    v = torch.randn(3, 1, 16)
    one = net(z, t, Features(v, torch.ones(3, 1, dtype=torch.bool)))
    many = net(z, t, Features(v.expand(3, 7, 16), torch.ones(3, 7, dtype=torch.bool)))
    assert torch.allclose(one, many, atol=1e-5)
    other = net(z, t, Features(torch.randn(3, 1, 16), torch.ones(3, 1, dtype=torch.bool)))
    assert not torch.allclose(one, other, atol=1e-3)  # the text does reach the velocity


def test_caption_dropout_uses_the_null_features():
    net = flow("pooled")
    z, t, f = inputs()
    drop = torch.tensor([True, False, True, False])
    with torch.no_grad():
        out = net(z, t, net.drop(f, drop))
        assert torch.allclose(out[drop], net(z, t, net.null_features(4))[drop], atol=1e-5)
        assert torch.allclose(out[~drop], net(z, t, f)[~drop], atol=1e-5)


def test_autoencoder_keeps_the_halves_apart():
    ae = HalfAutoencoder(4)
    x = torch.from_numpy(to_float(make_shapes(2, seed=0, two_objects=True).images))
    y = x.clone()
    y[:, :, :, 8:] = torch.rand_like(y[:, :, :, 8:])  # change only the right half
    with torch.no_grad():
        zx, zy = ae.encode(x), ae.encode(y)
        assert torch.equal(zx[..., :2], zy[..., :2]) and not torch.equal(zx[..., 2:], zy[..., 2:])
        lx, ly = ae.logits(zx), ae.logits(zy)
    assert torch.equal(lx[..., :8], ly[..., :8])


def test_autoencoder_round_trip_of_clean_scenes_after_short_training():
    """An honest bound for a test's budget (800 small steps; the runs train 3000): on held-out
    scenes colour and rows come back first, some scenes within the checker's 2 pixels already;
    shape detail at every jitter is what the longer training buys."""
    s = make_shapes(2048, seed=0, two_objects=True)
    torch.manual_seed(0)
    cfg = AEConfig(steps=800, batch_size=32, lr=3e-3, warmup=50, noise=0.0)
    ae, _ = train_autoencoder(cfg, s.images)
    r = ceiling(ae, n=256)
    assert r["colour"] >= 0.95 and r["relation"] >= 0.95, r
    assert r["near_valid"] >= 0.1 and r["binding"] >= 0.4, r
    assert ceiling(HalfAutoencoder(4), n=64)["near_valid"] == 0.0  # untrained: nothing


def test_end_to_end_latent_fm_train_load_sample(tmp_path):
    cfg = HybridConfig(encoder="oracle", generator="latent-fm", **TINY)
    model, state = train_hybrid(cfg, tmp_path / "run")
    assert state["step"] == 3  # and the notes carry the autoencoder's ceiling, every score
    assert {"ae_loss", "ae_near_valid", "ae_strict_valid", "ae_binding"} <= set(state["notes"])
    loaded, saved = load_hybrid(tmp_path / "run")
    assert saved.generator == "latent-fm"
    caps = C.swap_pairs(2)
    a, calls = sample(model, caps, guidance=2.0, steps=3, solver="euler", seed=1)
    b, _ = sample(loaded, caps, guidance=2.0, steps=3, solver="euler", seed=1)
    assert a.shape == (4, 16, 16, 3) and a.dtype == np.uint8 and calls == 6
    assert (a == b).all()  # the checkpoint holds everything: encoder, flow, autoencoder, stats


def test_command_line_train_and_sample_latent_fm(tmp_path, capsys):
    from generative.cli import main

    run = tmp_path / "lf"
    tiny = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    train = ["hybrid", "train", "--generator", "latent-fm", "--encoder", "oracle", *tiny]
    assert main([*train, "--out", str(run)]) == 0
    assert "ae_near_valid" in capsys.readouterr().out
    cap = "a red square on the left, above a blue circle on the right"
    png = tmp_path / "s.png"
    args = ["hybrid", "sample", str(run), "--caption", cap, "--n", "2", "--steps", "3"]
    assert main([*args, "--solver", "euler", "--out", str(png)]) == 0
    assert png.stat().st_size > 0
    assert main([*args, "--decoder", "adaptive", "--out", str(png)]) == 2
    assert "--decoder is the masked generator's" in capsys.readouterr().err
    masked = ["hybrid", "train", "--encoder", "oracle", "--ae-steps", "5", "--out", str(tmp_path)]
    assert main(masked) == 2  # a latent-only flag on a masked run is refused, not ignored
    assert "--ae-steps" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--text-dim", "18"], ["--hidden", "18", "--generator",
                                   "latent-fm"]])  # fmt: skip
def test_heads_that_do_not_divide_a_width_are_refused_before_any_work(tmp_path, capsys, flags):
    from generative.cli import main

    args = ["hybrid", "train", "--encoder", "unified", "--heads", "4", *flags]
    for extra in (["--dry-run"], []):
        assert main([*args, "--out", str(tmp_path / "r"), *extra]) == 2
        assert "--heads 4 does not divide" in capsys.readouterr().err
    assert not (tmp_path / "r" / "state.json").exists()


def test_an_encoder_without_attention_keeps_a_free_text_width(tmp_path):
    cfg = HybridConfig(**{**TINY, "encoder": "bow", "text_dim": 18, "heads": 4})
    model, _ = train_hybrid(cfg, tmp_path / "run")  # no heads to divide: trains
    assert model.encoder.embed.weight.shape[1] == 18
