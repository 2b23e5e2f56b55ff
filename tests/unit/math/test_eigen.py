"""Extreme eigenvalues of symmetric PSD matrices: agreement with numpy, the rank bound, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from ntk_eoc.math.eigen import SYMMETRY_RTOL, extreme_eigenvalues, min_eigenvalue, rank_bound_zero

EPS = np.finfo(np.float64).eps
# Backward-stable symmetric eigensolvers return each eigenvalue to within ~ eps N ||K||_2 (Householder
# tridiagonalisation); two such solvers differ by at most twice that. C = 4 leaves a factor 2 of slack.
C_ROUNDING = 4.0


def wishart(n: int, p: int, seed: int) -> np.ndarray:
    """Phi Phi^T / p with Phi: n x p standard normal (rank min(n, p))."""
    phi = np.random.default_rng(seed).standard_normal((n, p))
    return phi @ phi.T / p


def hadamard_gram(n: int, p: int, q: int, seed: int) -> np.ndarray:
    """(A A^T / p) o (D D^T / q): the structure of an NTK layer block <a, a'> <delta, delta'>.

    It is Phi Phi^T with Phi the row-wise Kronecker product of A and D (n x pq), so its rank is <= pq.
    """
    rng = np.random.default_rng(seed)
    a, d = rng.standard_normal((n, p)), rng.standard_normal((n, q))
    return (a @ a.T / p) * (d @ d.T / q)


def psd_cases(seed: int) -> list[tuple[str, np.ndarray]]:
    return [
        ("wishart", wishart(60, 150, seed + 1)),
        ("wishart_square", wishart(80, 80, seed + 2)),  # ill-conditioned: lambda_min ~ 1/n^2 scale
        ("hadamard", hadamard_gram(70, 20, 15, seed + 3)),  # rank <= 300, full rank 70
    ]


def rounding_unit(kernel: np.ndarray) -> float:
    """eps N lambda_max: the size of the rounding error of any backward-stable eigensolver."""
    return EPS * kernel.shape[0] * float(np.linalg.eigvalsh(kernel)[-1])


@pytest.mark.parametrize("case", range(3))
def test_min_and_extreme_eigenvalues_match_numpy_full_eigh(seed, case):
    name, k = psd_cases(seed)[case]
    reference = np.linalg.eigh(k)[0]
    tol = C_ROUNDING * rounding_unit(k)
    assert reference[0] > 100 * tol, f"{name}: test matrix should be well inside full rank"
    assert abs(min_eigenvalue(k) - reference[0]) <= tol
    low, high = extreme_eigenvalues(k)
    assert abs(low - reference[0]) <= tol
    assert abs(high - reference[-1]) <= tol


@pytest.mark.parametrize(
    ("kernel", "n_params"),
    [
        (lambda s: wishart(60, 25, s), 25),  # K = Phi Phi^T, Phi: 60 x 25
        (lambda s: hadamard_gram(60, 5, 6, s), 30),  # NTK layer block, rank <= 5 * 6 = 30 < 60
    ],
)
def test_rank_deficient_kernel_gives_rounding_noise_bounded_by_eps_n_lambda_max(seed, kernel, n_params):
    k = kernel(seed + 10)
    assert rank_bound_zero(k.shape[0], n_params)
    # lambda_min = 0 exactly; the solver returns noise of either sign, of size <= ~ eps N lambda_max.
    assert abs(min_eigenvalue(k)) <= C_ROUNDING * rounding_unit(k)
    assert abs(extreme_eigenvalues(k)[0]) <= C_ROUNDING * rounding_unit(k)


def test_float32_input_is_upcast_and_float32_asymmetry_is_accepted(seed):
    rng = np.random.default_rng(seed + 20)
    phi = rng.standard_normal((50, 120)).astype(np.float32)
    k32 = phi @ phi.T / np.float32(120)  # float32 matmul: symmetric to rounding, maybe not bitwise
    k64 = k32.astype(np.float64)
    sym = (k64 + k64.T) / 2.0
    # The upcast is exact, so the result is the float64 solver's on the same (symmetrised) values.
    assert min_eigenvalue(k32) == min_eigenvalue(sym)
    assert abs(min_eigenvalue(k32) - np.linalg.eigvalsh(sym)[0]) <= C_ROUNDING * rounding_unit(sym)


def test_input_is_not_modified(seed):
    k = wishart(40, 60, seed + 30)
    before = k.copy()
    min_eigenvalue(k)
    extreme_eigenvalues(k)
    np.testing.assert_array_equal(k, before)


def test_one_by_one_and_integer_input():
    assert min_eigenvalue(np.array([[3.0]])) == 3.0
    assert extreme_eigenvalues(np.array([[2, 1], [1, 2]])) == pytest.approx((1.0, 3.0), rel=1e-15)


@pytest.mark.parametrize("func", [min_eigenvalue, extreme_eigenvalues])
@pytest.mark.parametrize(
    ("kernel", "match"),
    [
        (np.ones((3, 4)), r"square matrix, got shape \(3, 4\)"),
        (np.ones(5), r"square matrix, got shape \(5,\)"),
        (np.ones((2, 2, 2)), r"square matrix, got shape \(2, 2, 2\)"),
        (np.ones((0, 0)), r"non-empty square matrix, got shape \(0, 0\)"),
        (np.eye(3) * (1 + 1j), r"real, got dtype complex128"),
        (
            np.array([[1.0, np.nan], [np.nan, 1.0]]),
            r"2 NaN or inf entries of 4 \(no NaN reaches",
        ),
        (np.array([[1.0, 0.0], [0.0, np.inf]]), r"1 NaN or inf entries of 4"),
        (np.array([[1.0, 0.5], [0.2, 1.0]]), r"not symmetric: max\|K - K\^T\| = 0.3 > 1e-05 \* max\|K\|"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(func, kernel, match):
    with pytest.raises(ValueError, match=rf"{func.__name__}: .*{match}"):
        func(kernel)


def test_symmetry_tolerance_is_relative_and_adjustable():
    k = np.array([[1.0, 0.5], [0.5, 1.0]]) * 1e6
    k[0, 1] += 0.5 * SYMMETRY_RTOL * 1e6  # relative asymmetry SYMMETRY_RTOL / 2: accepted
    # (K + K^T) / 2 has off-diagonal 0.5e6 + 2.5: lambda_min = 1e6 - 0.5e6 - 2.5 (O(1) ulp of 1e6).
    assert min_eigenvalue(k) == pytest.approx(0.5e6 - 0.25 * SYMMETRY_RTOL * 1e6, rel=1e-14)
    k[0, 1] += SYMMETRY_RTOL * 1e6  # 1.5 SYMMETRY_RTOL: rejected, unless the tolerance is widened
    with pytest.raises(ValueError, match="not symmetric"):
        min_eigenvalue(k)
    assert min_eigenvalue(k, sym_rtol=1e-4) == pytest.approx(0.5e6 - 0.75 * SYMMETRY_RTOL * 1e6, rel=1e-14)


@pytest.mark.parametrize(
    ("n", "n_params", "expected"), [(10, 9, True), (10, 10, False), (10, 1000, False), (1, 0, True)]
)
def test_rank_bound_zero_is_n_greater_than_n_params(n, n_params, expected):
    assert rank_bound_zero(n, n_params) is expected
    assert rank_bound_zero(np.int64(n), np.int64(n_params)) is expected


@pytest.mark.parametrize(
    ("n", "n_params", "match"),
    [
        (0, 5, r"rank_bound_zero: n=0: must be an integer >= 1"),
        (5, -1, r"rank_bound_zero: n_params=-1: must be an integer >= 0"),
        (5.0, 3, r"n=5.0: must be an integer"),
        (True, 3, r"n=True: must be an integer"),
    ],
)
def test_rank_bound_zero_rejects_bad_arguments(n, n_params, match):
    with pytest.raises(ValueError, match=match):
        rank_bound_zero(n, n_params)
