"""Toy data sets, user point files (.csv/.npy) and per-axis standardization."""

from __future__ import annotations

import numpy as np
import pytest

from generative.continuous.data import (
    TOY,
    Standardizer,
    load_dataset,
    load_points,
    make_toy,
)
from generative.errors import UserError


@pytest.mark.parametrize("name", sorted(TOY))
def test_toy_set_returns_float32_points_with_labels(name):
    """Every toy set gives (N, 2) float32 finite points and int labels in 0..num_classes-1."""
    d = make_toy(name, 500, seed=3)
    assert d.x.shape == (500, 2)
    assert d.x.dtype == np.float32
    assert np.isfinite(d.x).all()
    assert d.labels is not None and d.labels.shape == (500,)
    assert np.issubdtype(d.labels.dtype, np.integer)
    assert d.num_classes >= 2
    assert d.labels.min() >= 0 and d.labels.max() < d.num_classes
    assert len(np.unique(d.labels)) == d.num_classes  # every mode is drawn at n=500


@pytest.mark.parametrize("name", sorted(TOY))
def test_toy_set_is_seeded(name):
    """The same seed draws the same points; another seed draws different ones."""
    a, b, c = make_toy(name, 200, 1), make_toy(name, 200, 1), make_toy(name, 200, 2)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)


def test_moons_upper_moon_is_label_zero():
    """The moons docstring promises label 0 is the upper moon."""
    d = make_toy("moons", 2000, seed=0)
    assert d.x[d.labels == 0, 1].mean() > d.x[d.labels == 1, 1].mean() + 0.5


@pytest.mark.parametrize("name", sorted(TOY))
def test_standardizer_round_trips_and_whitens_training_set(name):
    """decode(encode(x)) == x, and the training set encodes to zero mean, unit std per axis."""
    split = load_dataset(name, n_train=3000, seed=0)
    std, x = split.standardizer, split.train.x
    z = std.encode(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose(std.decode(z), x, rtol=1e-6, atol=1e-6)
    # and through the JSON the run folder stores
    again = Standardizer.from_json(std.to_json())
    np.testing.assert_allclose(again.decode(again.encode(x)), x, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(again.encode(x), z, atol=1e-6)


def test_standardizer_constant_axis_does_not_divide_by_zero():
    """A constant column keeps std 1 instead of producing inf/NaN."""
    x = np.stack([np.arange(10.0), np.full(10, 4.0)], axis=1).astype(np.float32)
    s = Standardizer.fit(x)
    z = s.encode(x)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(s.decode(z), x, atol=1e-6)


def test_toy_split_has_no_heldout_and_fits_on_training():
    """A named toy set draws n_train points and fits the standardizer on exactly those."""
    split = load_dataset("moons", n_train=1234, seed=5)
    assert split.heldout is None
    assert split.train.x.shape == (1234, 2)
    np.testing.assert_allclose(split.standardizer.mean, split.train.x.mean(axis=0), atol=1e-6)


def _write(path, text):
    path.write_text(text)
    return path


def test_csv_with_header_line_is_accepted(tmp_path):
    """A non-numeric first line is a header and is skipped; values are parsed as float32."""
    f = _write(tmp_path / "pts.csv", "x,y\n1.0,2.0\n3,4\n\n-5.5,6e-1\n")
    x = load_points(f)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, [[1, 2], [3, 4], [-5.5, 0.6]], rtol=1e-6)


def test_csv_without_header_is_accepted(tmp_path):
    """A plain numeric CSV loads every row."""
    f = _write(tmp_path / "pts.csv", "1,2,3\n4,5,6\n")
    np.testing.assert_array_equal(load_points(f), [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize(
    "text, line",
    [
        ("x,y\n1,2\n3,abc\n5,6\n", 3),  # non-numeric cell
        ("1,2\n3,4\n5,6\n7,oops\n", 4),  # non-numeric cell, no header
        ("1,2\n3,4\n5,6,7\n", 3),  # ragged: too many columns
        ("1,2,3\n4,5,6\n7,8,9\n1,2\n", 4),  # ragged: too few columns
        ("x,y\n1,2\nnan,4\n", 3),  # NaN
        ("1,2\n3,4\n5,inf\n", 3),  # inf
        ("1,2\n3,-inf\n", 2),  # -inf
    ],
    ids=["text", "text-no-header", "ragged-long", "ragged-short", "nan", "inf", "-inf"],
)
def test_csv_errors_name_file_and_line(tmp_path, text, line):
    """A bad CSV cell/row is refused with the file name and the 1-based line number."""
    f = _write(tmp_path / "bad_points.csv", text)
    with pytest.raises(UserError) as exc:
        load_points(f)
    msg = str(exc.value)
    assert "bad_points.csv" in msg
    assert f"line {line}" in msg


@pytest.mark.parametrize("text", ["1,2\n", "x,y\n1,2\n", "", "x,y\n"])
def test_csv_with_fewer_than_two_rows_is_refused(tmp_path, text):
    """One (or zero) data rows is not a data set."""
    f = _write(tmp_path / "one.csv", text)
    with pytest.raises(UserError, match="at least 2 rows"):
        load_points(f)


def test_npy_loads_as_float32(tmp_path):
    """A float64 .npy loads as float32 with the same values."""
    a = np.random.default_rng(0).standard_normal((50, 3))
    np.save(tmp_path / "a.npy", a)
    x = load_points(tmp_path / "a.npy")
    assert x.dtype == np.float32 and x.shape == (50, 3)
    np.testing.assert_allclose(x, a, rtol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_npy_with_nan_or_inf_is_refused(tmp_path, bad):
    """A .npy holding NaN/inf is refused and the row is named."""
    a = np.ones((10, 2))
    a[7, 1] = bad
    np.save(tmp_path / "a.npy", a)
    with pytest.raises(UserError, match=r"a\.npy.*row 7"):
        load_points(tmp_path / "a.npy")


def test_npy_one_row_or_wrong_rank_is_refused(tmp_path):
    """A single point, or a 1-D/3-D array, is not an N x D point set."""
    np.save(tmp_path / "one.npy", np.ones((1, 2)))
    np.save(tmp_path / "flat.npy", np.ones(10))
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2)))
    with pytest.raises(UserError, match="at least 2 rows"):
        load_points(tmp_path / "one.npy")
    for name in ("flat.npy", "cube.npy"):
        with pytest.raises(UserError, match="2-D"):
            load_points(tmp_path / name)


def test_npy_with_pickled_objects_is_refused(tmp_path):
    """An object array (which needs pickle to load) is refused, not unpickled."""
    np.save(tmp_path / "obj.npy", np.array([[1, "a"], [2, "b"]], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match="obj.npy"):
        load_points(tmp_path / "obj.npy")


def test_unsupported_suffix_and_missing_file_are_refused(tmp_path):
    """A .txt file and a missing path give clean errors."""
    f = _write(tmp_path / "pts.txt", "1,2\n3,4\n")
    with pytest.raises(UserError, match="unsupported file type"):
        load_points(f)
    with pytest.raises(UserError, match="no such file"):
        load_points(tmp_path / "missing.csv")


def test_unknown_data_name_lists_valid_choices():
    """An unknown name (that is not a file) names every toy set."""
    with pytest.raises(UserError) as exc:
        load_dataset("mooons")
    msg = str(exc.value)
    assert "mooons" in msg
    for name in TOY:
        assert name in msg


def test_user_file_gets_deterministic_80_20_split(tmp_path):
    """A user file is split 80/20, the same way every time, with no point lost or duplicated."""
    x = np.random.default_rng(1).standard_normal((500, 3)).astype(np.float32)
    x[:, 0] += np.arange(500)  # make every row unique
    np.save(tmp_path / "pts.npy", x)
    a = load_dataset(str(tmp_path / "pts.npy"))
    b = load_dataset(str(tmp_path / "pts.npy"), seed=7)  # the training seed does not move it
    assert a.train.x.shape == (400, 3) and a.heldout.x.shape == (100, 3)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.heldout.x, b.heldout.x)
    both = np.concatenate([a.train.x, a.heldout.x])
    np.testing.assert_array_equal(np.sort(both[:, 0]), np.sort(x[:, 0]))
    # not simply the first 80%: the split is shuffled
    assert not np.array_equal(a.train.x, x[:400])
    assert a.train.labels is None
    # the standardizer is fitted on the training part only
    np.testing.assert_allclose(a.standardizer.mean, a.train.x.mean(axis=0), rtol=1e-5)


def test_csv_and_npy_of_same_points_split_identically(tmp_path):
    """The split depends on the points, not on the file format."""
    x = np.round(np.random.default_rng(2).standard_normal((50, 2)), 3).astype(np.float32)
    np.save(tmp_path / "p.npy", x)
    np.savetxt(tmp_path / "p.csv", x, delimiter=",", fmt="%.3f")
    a, b = load_dataset(str(tmp_path / "p.npy")), load_dataset(str(tmp_path / "p.csv"))
    np.testing.assert_allclose(a.heldout.x, b.heldout.x, atol=1e-6)
    assert len(a.heldout.x) == 10
