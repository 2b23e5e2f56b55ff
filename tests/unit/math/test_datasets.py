"""Datasets: norms ||x||^2 = m_0, seeded reproducibility, digits preprocessing, close-pair angle."""

from __future__ import annotations

import numpy as np
import pytest

from ntk_eoc.math import datasets

# float64 rounding of a norm rescaling: a few ulps of m_0.
NORM_RTOL = 1e-12
# arccos near 5 degrees loses ~sqrt(eps) relative precision in the cosine -> 1e-6 degrees is safe.
ANGLE_ATOL_DEG = 1e-6


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("sphere", {"n_points": 7, "input_dim": 5, "seed": 1}),
        ("gaussian", {"n_points": 7, "input_dim": 5, "seed": 1}),
        ("digits", {"n_points": 7, "seed": 1}),
        ("close_pairs", {"n_points": 7, "input_dim": 9, "seed": 1, "min_angle_deg": 5.0}),
    ],
)
def test_rows_lie_on_sphere_of_radius_sqrt_input_dim(name, params):
    x = datasets.make_dataset(name, **params)
    assert x.shape[0] == 7 and x.dtype == np.float64
    np.testing.assert_allclose(np.sum(x**2, axis=1), x.shape[1], rtol=NORM_RTOL)


def test_same_seed_same_points_other_seed_other_points():
    a = datasets.sphere(4, 3, seed=5)
    np.testing.assert_array_equal(a, datasets.sphere(4, 3, seed=5))
    assert not np.allclose(a, datasets.sphere(4, 3, seed=6))


def test_gaussian_without_normalize_is_standard_normal():
    x = datasets.gaussian(4, 3, seed=2, normalize=False)
    np.testing.assert_array_equal(x, np.random.default_rng(2).standard_normal((4, 3)))


def test_digits_are_centred_images_scaled_to_sphere():
    from sklearn.datasets import load_digits

    images = load_digits().data
    rows = np.random.default_rng(3).choice(images.shape[0], size=5, replace=False)
    centred = images[rows] - images.mean(axis=0)
    x = datasets.digits(5, seed=3)
    assert x.shape == (5, 64)
    expected = centred / np.linalg.norm(centred, axis=1, keepdims=True) * 8.0
    np.testing.assert_allclose(x, expected, rtol=NORM_RTOL)


def test_close_pairs_smallest_angle_is_the_requested_one():
    x = datasets.close_pairs(10, 16, seed=4, min_angle_deg=5.0)
    assert datasets.smallest_angle_deg(x) == pytest.approx(5.0, abs=ANGLE_ATOL_DEG)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    pair_angles = np.degrees(np.arccos(np.sum(unit[0::2] * unit[1::2], axis=1)))
    np.testing.assert_allclose(pair_angles, 5.0, atol=ANGLE_ATOL_DEG)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: datasets.sphere(0, 3, 0), "n_points=0"),
        (lambda: datasets.digits(4, 0, input_dim=10), "input_dim=10"),
        (lambda: datasets.close_pairs(4, 3, 0, min_angle_deg=95.0), "min_angle_deg=95.0"),
        (lambda: datasets.make_dataset("mnist"), "name='mnist'"),
    ],
)
def test_bad_arguments_name_key_and_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_duplicate_points_are_refused_naming_the_closest_pair():
    x = datasets.sphere(20, 5, seed=7)
    x[17] = x[3]
    with pytest.raises(ValueError, match=r"points 3 and 17 coincide \(angle 0 deg < 0.001 deg; 1 such pair"):
        datasets.check_distinct(x)


def test_one_dimensional_inputs_are_refused():
    # input_dim = 1 puts every point at +-1: duplicates for any n >= 3.
    with pytest.raises(ValueError, match="coincide"):
        datasets.check_distinct(datasets.sphere(8, 1, seed=0))


def test_antipodal_points_are_refused_only_when_asked():
    x = datasets.sphere(10, 4, seed=8)
    x[6] = -x[2]
    datasets.check_distinct(x)
    with pytest.raises(ValueError, match=r"points 2 and 6 are antipodal \(angle 180 deg"):
        datasets.check_distinct(x, antipodal=True)


def test_the_angular_tolerance_is_the_documented_one():
    # Two unit vectors at angle t, just above and just below the tolerance.
    def pair(angle_deg: float) -> np.ndarray:
        t = np.radians(angle_deg)
        return np.array([[1.0, 0.0, 0.0], [np.cos(t), np.sin(t), 0.0], [0.0, 0.0, 1.0]])

    tol = datasets.DISTINCT_MIN_ANGLE_DEG
    datasets.check_distinct(pair(1.01 * tol), antipodal=True)
    with pytest.raises(ValueError, match="points 0 and 1 coincide"):
        datasets.check_distinct(pair(0.99 * tol))
    with pytest.raises(ValueError, match="points 0 and 1 are antipodal"):
        datasets.check_distinct(pair(180.0 - 0.99 * tol), antipodal=True)


def test_generated_datasets_pass_and_zero_rows_fail():
    datasets.check_distinct(datasets.close_pairs(10, 16, seed=4, min_angle_deg=5.0), antipodal=True)
    datasets.check_distinct(datasets.digits(50, seed=0), antipodal=True)
    with pytest.raises(ValueError, match="point 1 is zero"):
        datasets.check_distinct(np.array([[1.0, 0.0], [0.0, 0.0]]))
