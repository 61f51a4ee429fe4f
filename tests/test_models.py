"""Denoisers and their conditioning: shapes, DiT's zero init, patchify round trips, the
sinusoidal time embedding, and classifier-free guidance."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from generative.continuous.diffusion_transformer import DiT, PatchEmbed
from generative.continuous.mlp import MLP
from generative.continuous.sampling import guided
from generative.layers.embeddings import sinusoidal

SHAPES = [pytest.param((2,), id="points"), pytest.param((1, 8, 8), id="images")]
NUM_CLASSES = 3


def make(kind: str, shape, num_classes: int = 0):
    torch.manual_seed(0)
    if kind == "mlp":
        return MLP(shape, width=32, depth=2, num_classes=num_classes)
    return DiT(shape, patch=2, size="DiT-T", num_classes=num_classes)


def inputs(shape, batch: int = 4):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, *shape, generator=g)
    t = torch.rand(batch, generator=g)
    y = torch.randint(0, NUM_CLASSES, (batch,), generator=g)
    return x, t, y


def perturb_output_layer(dit: DiT):
    """Give DiT's zero-initialised layers random weights, as training would."""
    torch.manual_seed(2)
    with torch.no_grad():
        for layer in (dit.final_layer.linear, dit.final_layer.adaLN_modulation[-1]):
            layer.weight.normal_(std=0.1)
            layer.bias.normal_(std=0.1)
        for block in dit.blocks:
            block.adaLN_modulation[-1].weight.normal_(std=0.1)


# region: denoisers
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["mlp", "dit"])
@pytest.mark.parametrize("labels", ["none", "given", "null"])
def test_denoiser_returns_a_tensor_shaped_like_x(kind, shape, labels):
    """model(x, t, y) has x's shape for points and images, unconditional or with labels."""
    model = make(kind, shape, num_classes=0 if labels == "none" else NUM_CLASSES)
    if kind == "dit":
        perturb_output_layer(model)
    x, t, y = inputs(shape)
    out = model(x, t, y if labels == "given" else None)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.isfinite(out).all() and out.abs().sum() > 0


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("num_classes", [0, NUM_CLASSES])
def test_dit_outputs_exactly_zero_at_init(shape, num_classes):
    """adaLN-Zero: a fresh DiT returns exactly 0 whatever x, t and y are."""
    model = make("dit", shape, num_classes)
    x, t, y = inputs(shape)
    out = model(3 * x, t, y if num_classes else None)
    assert torch.equal(out, torch.zeros_like(x))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["mlp", "dit"])
def test_missing_label_means_the_null_label(kind, shape):
    """y = None gives the same output as y = num_classes (the null label); a real label and
    another time give different outputs (the conditioning reaches the output)."""
    model = make(kind, shape, NUM_CLASSES)
    if kind == "dit":
        perturb_output_layer(model)
    x, t, y = inputs(shape)
    null = torch.full_like(y, NUM_CLASSES)
    assert torch.allclose(model(x, t, None), model(x, t, null), atol=1e-6)
    assert not torch.allclose(model(x, t, y), model(x, t, null), atol=1e-4)
    assert not torch.allclose(model(x, t + 0.1, null), model(x, t, null), atol=1e-4)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["mlp", "dit"])
@pytest.mark.parametrize("labels", ["none", "shared", "null"])
def test_a_shared_time_gives_what_each_sample_alone_gives(kind, shape, labels):
    """Sampling shares t (and the label) across the batch, so the condition is computed once
    and broadcast: each row must still equal that sample run on its own."""
    model = make(kind, shape, NUM_CLASSES if labels != "none" else 0)
    if kind == "dit":
        perturb_output_layer(model)
    x, _, _ = inputs(shape)
    t = torch.full((len(x),), 0.37)
    y = torch.full((len(x),), 1) if labels == "shared" else None
    seen = []
    hook = model.t_embedder.register_forward_hook(lambda m, args, out: seen.append(len(args[0])))
    batch = model(x, t, y)
    hook.remove()
    assert seen == [1]  # the time embedding ran once, not once per sample
    rows = [model(x[i : i + 1], t[:1], None if y is None else y[:1]) for i in range(len(x))]
    assert torch.allclose(batch, torch.cat(rows), atol=1e-6)
    assert not torch.allclose(batch, model(x, t + 0.1, y), atol=1e-4)  # t still reaches it


# endregion


# region: patches
@pytest.mark.parametrize(
    "shape, patch",
    [((6,), 1), ((6,), 2), ((6,), 3), ((1, 8, 8), 2), ((3, 8, 8), 2), ((3, 8, 8), 4)],
)
def test_patchify_then_unpatchify_is_the_identity(shape, patch):
    """DiT.unpatchify(PatchEmbed.patchify(x)) == x exactly, and each token is one real patch
    (points: consecutive coordinates; images: a p x p square over all channels, row-major)."""
    dit = DiT(shape, patch=patch, size="DiT-T")
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(3))
    tokens = dit.x_embedder.patchify(x)
    assert tokens.shape == (2, dit.x_embedder.num_tokens, dit.x_embedder.proj.in_features)
    assert torch.equal(dit.unpatchify(tokens), x)
    p = patch
    if len(shape) == 1:
        assert torch.equal(tokens[:, 1], x[:, p : 2 * p])
    else:
        per_row = shape[2] // p
        assert torch.equal(tokens[:, 0], x[:, :, :p, :p].flatten(1))
        assert torch.equal(tokens[:, 1], x[:, :, :p, p : 2 * p].flatten(1))  # right neighbour
        assert torch.equal(tokens[:, per_row], x[:, :, p : 2 * p, :p].flatten(1))  # below


def test_patch_embed_counts_tokens():
    """An 8x8 image with patch 2 is 16 tokens of C*4 numbers; a 6-vector with patch 3, 2 of 3."""
    assert PatchEmbed((3, 8, 8), 2, 16).num_tokens == 16
    assert PatchEmbed((3, 8, 8), 2, 16).proj.in_features == 12
    assert PatchEmbed((6,), 3, 16).num_tokens == 2


# endregion


# region: time embedding
def test_sinusoid_distance_has_its_closed_form():
    """|e(t) - e(t')|^2 = sum_i 2 (1 - cos(w_i t_scale (t - t'))), w_i = 10000^(-i/half), and
    e(0) is (1, ..., 1, 0, ..., 0)."""
    dim, half = 64, 32
    w = torch.tensor([10000 ** (-i / half) for i in range(half)], dtype=torch.float64)
    for t_scale in (1.0, 1000.0):
        e = sinusoidal(torch.tensor([0.0, 0.2, 0.3]), dim, t_scale)
        assert e.shape == (3, dim)
        assert torch.equal(e[0], torch.cat([torch.ones(half), torch.zeros(half)]))
        dist2 = (2 * (1 - torch.cos(w * t_scale * 0.1))).sum().item()
        assert (e[1] - e[2]).pow(2).sum().item() == pytest.approx(dist2, rel=1e-4)


def test_sinusoid_t_scale_1_squeezes_times_together():
    """At t_scale = 1 the embeddings of t = 0.2 and 0.3 are far closer than at t_scale = 1000;
    the whole of [0, 1] at scale 1 is no farther apart than one DDPM step (1/1000) at 1000."""
    t = torch.tensor([0.0, 0.2, 0.3, 0.201, 1.0])
    e1, e1000 = sinusoidal(t, 64, 1.0), sinusoidal(t, 64, 1000.0)
    d1 = (e1[1] - e1[2]).norm().item()
    d1000 = (e1000[1] - e1000[2]).norm().item()
    assert d1 < 0.05 * d1000
    whole_interval_at_1 = (e1[0] - e1[4]).norm().item()
    one_step_at_1000 = (e1000[1] - e1000[3]).norm().item()
    assert whole_interval_at_1 <= one_step_at_1000 * (1 + 1e-3)
    assert d1000 > 0.5 * math.sqrt(64)  # 0.2 vs 0.3 is 100 steps apart: nearly unrelated


# endregion


# region: guidance
class LabelNet:
    """A toy conditional net with a closed form: x (y + 1) + t; null label = num_classes."""

    y_embedder = SimpleNamespace(num_classes=NUM_CLASSES)

    def __call__(self, x, t, y=None):
        if y is None:
            y = torch.full((x.shape[0],), NUM_CLASSES)
        return x * (y + 1).to(x.dtype)[:, None] + t[:, None]


@pytest.mark.parametrize("scale", [0.0, 1.0, 3.0, -0.5])
def test_guidance_is_uncond_plus_scale_times_difference(scale):
    """guided(net, y, w) = uncond + w (cond - uncond) exactly: w = 1 cond, w = 0 uncond."""
    net = LabelNet()
    x, t, y = inputs((5,))
    cond, uncond = net(x, t, y), net(x, t, torch.full_like(y, NUM_CLASSES))
    out = guided(net, y, scale)(x, t)
    assert torch.allclose(out, uncond + scale * (cond - uncond), rtol=0, atol=1e-6)
    if scale == 1.0:
        assert torch.equal(out, cond)
    if scale == 0.0:
        assert torch.equal(out, uncond)


def test_guidance_on_a_real_model():
    """On an MLP: scale 1 is the conditional output, 0 the null-label output, and the guided
    output is linear in the scale; y = None is the plain (null-label) model."""
    model = make("mlp", (2,), NUM_CLASSES)
    x, t, y = inputs((2,), batch=6)
    with torch.no_grad():
        cond = model(x, t, y)
        uncond = model(x, t, torch.full_like(y, NUM_CLASSES))
        assert torch.equal(guided(model, y, 1.0)(x, t), cond)
        assert torch.allclose(guided(model, y, 0.0)(x, t), uncond, atol=1e-6)
        w = 4.0
        assert torch.allclose(guided(model, y, w)(x, t), uncond + w * (cond - uncond), atol=1e-5)
        assert torch.allclose(guided(model, None, w)(x, t), uncond, atol=1e-6)


# endregion
