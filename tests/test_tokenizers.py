"""The 2D codebook trainer, the learned image tokenizer and `generative tokenize`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from generative.cli import main
from generative.discrete.data.tokenizer_images import load_images
from generative.discrete.tokenizers.codebook2d import Codebook2DConfig, train_codebook
from generative.discrete.tokenizers.codebook_figures import codebook_figure
from generative.discrete.tokenizers.train_tokenizer import (
    TokenizerConfig,
    build,
    load_tokenizer,
    train_tokenizer,
)
from generative.errors import UserError


def test_codebook2d_ema_restart_uses_every_code_and_records_trajectory(tmp_path):
    """A short EMA + restart run on 8 Gaussians hits all 16 codes on held-out points; the
    trajectory has one (K, 2) frame per record step and serializes for the widget."""
    cfg = Codebook2DConfig(K=16, update="ema", dead_threshold=1.0, steps=200, record_every=50)
    res = train_codebook(cfg)
    assert res.stats["usage"] == 1.0 and res.stats["perplexity"] > 8
    assert res.trajectory.shape == (5, 16, 2) and res.trajectory_steps == [0, 50, 100, 150, 200]
    assert not np.allclose(res.trajectory[0], res.trajectory[-1])  # the codes moved
    assert res.counts.sum() == cfg.n_eval
    blob = json.loads(json.dumps(res.to_json()))
    assert len(blob["trajectory"]) == 5 and blob["config"]["K"] == 16
    codebook_figure({"ema": res}, tmp_path / "cb.png")
    assert (tmp_path / "cb.png").read_bytes()[:4] == b"\x89PNG"


def test_codebook2d_far_init_collapses_and_fsq_needs_no_aux_loss():
    """Gradient VQ from a far corner: only the nearest code ever wins. FSQ adds no loss."""
    far = train_codebook(Codebook2DConfig(K=16, init="far", steps=100))
    assert far.stats["usage"] <= 2 / 16
    fsq = train_codebook(Codebook2DConfig(quantizer="fsq", levels=(4, 4), steps=20))
    assert fsq.stats["num_codes"] == 16 and fsq.trajectory.shape[1:] == (16, 2)


def test_codebook2d_command_line(tmp_path, capsys):
    """Every config field is a flag; the run prints its statistics and writes PNG and JSON."""
    from generative.discrete.tokenizers.codebook2d import main as codebook_main

    argv = ["--K", "8", "--update", "ema", "--straight-through", "false", "--steps", "30"]
    argv += ["--png", str(tmp_path / "c.png"), "--json", str(tmp_path / "c.json")]
    assert codebook_main(argv) == 0
    assert json.loads(capsys.readouterr().out)["num_codes"] == 8
    blob = json.loads((tmp_path / "c.json").read_text())
    assert blob["config"]["straight_through"] is False and blob["config"]["update"] == "ema"
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert codebook_main(["--data", "spiral"]) == 2


def test_codebook2d_bad_settings():
    with pytest.raises(UserError, match="valid choices"):
        Codebook2DConfig(data="spiral")
    with pytest.raises(UserError, match="at least 1"):
        Codebook2DConfig(K=0)
    with pytest.raises(UserError, match="encoder mlp"):
        train_codebook(Codebook2DConfig(quantizer="fsq", levels=(5, 5, 5), steps=1))


TINY = dict(steps=40, width=16, n_train=512, n_eval=100, batch_size=32)


@pytest.mark.parametrize("quantizer", ["vq", "ema", "fsq"])
def test_image_tokenizer_trains_saves_and_reloads(tmp_path, quantizer):
    """A tiny run of each quantizer: tokens (N, 4, 4) in range, decode gives images in [0, 1],
    training lowers the reconstruction error, and the reloaded run gives the same tokens."""
    cfg = TokenizerConfig(quantizer=quantizer, K=32, levels=(5, 5), **TINY)
    run = train_tokenizer(cfg, tmp_path / "run", progress=False)
    losses = [mse for _, mse in run.state["losses"]]
    x = load_images("shapes", 20, 5, heldout=True)
    tokens = run.model.encode(x)
    assert tokens.shape == (20, 4, 4) and tokens.dtype == torch.int64
    assert 0 <= tokens.min() and tokens.max() < cfg.num_codes
    y = run.model.decode(tokens)
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
    assert 0 < run.stats["usage"] <= 1 and run.stats["recon_mse"] < 0.2
    assert losses[-1] < 0.5 * run.state["losses"][0][1] or len(losses) == 1
    again = load_tokenizer(tmp_path / "run")
    assert torch.equal(again.model.encode(x), tokens)


def test_image_tokenizer_rejects_wrong_images():
    model = build(TokenizerConfig(quantizer="fsq", levels=(5, 5), **TINY))
    with pytest.raises(UserError, match=r"\(N, 3, 16, 16\)"):
        model.encode(torch.zeros(2, 3, 8, 8))
    with pytest.raises(UserError, match="0..24"):
        model.decode(torch.full((1, 4, 4), 25))
    with pytest.raises(UserError, match="grid .2.: unknown; valid choices: 4, 8"):
        train_tokenizer(TokenizerConfig(grid=2, **TINY), progress=False)


def test_cli_tokenize_writes_run_folder_and_reports(tmp_path, capsys):
    out = tmp_path / "tok"
    argv = ["tokenize", "--quantizer", "fsq", "--levels", "5,5", "--data", "digits"]
    argv += ["--steps", "20", "--width", "16", "--n-train", "256", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "usage" in text and "perplexity" in text and "MSE" in text
    assert (out / "recon.png").stat().st_size > 1000 and (out / "config.json").exists()
    assert main(argv) == 2  # refuses to overwrite
    assert "already holds a run" in capsys.readouterr().err
    assert main(["tokenize", "--levels", "8,x", "--out", str(tmp_path / "b")]) == 2
    assert "--levels" in capsys.readouterr().err
    assert main(["tokenize", "--levels", "8,1", "--out", str(tmp_path / "c")]) == 2
    assert "at least 2" in capsys.readouterr().err
