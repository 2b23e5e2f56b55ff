"""Physical invariants of kernels read from stores: what they refuse, naming the store, and what they accept."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ntk_eoc.storage.invariants import (
    DIAG_MAX_RATIO,
    MEAN_MIN_MATRICES,
    StoreInvalid,
    check_finite_store,
    check_kernel,
)

STORE = "results/demo/gathered/run.zarr"
N_POINTS, DEPTH = 8, 3
REFERENCE = DEPTH / N_POINTS  # Theta_l(x, x) / n on the sphere at the EOC


def _kernels(draws: int, dtype: str = "float32", seed: int = 11) -> xr.DataArray:
    """Gram matrices A A^T / width with E[K_ii] = REFERENCE, exactly symmetric, over (base_width, draw, i, j)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((2, draws, N_POINTS, 32))
    k = (REFERENCE / 32) * np.einsum("wdpk,wdqk->wdpq", a, a)
    return xr.DataArray(k.astype(dtype), dims=("base_width", "draw", "i", "j"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_valid_kernels_pass(dtype: str) -> None:
    k = _kernels(MEAN_MIN_MATRICES, dtype)
    check_kernel(k, STORE, reference=np.full(N_POINTS, REFERENCE))
    dead = k.copy()
    dead[0, 3] = 0.0  # a draw whose every unit is inactive: K = 0 is valid
    check_kernel(dead, STORE, reference=REFERENCE)


def test_asymmetry_is_refused_naming_store_and_matrix() -> None:
    k = _kernels(4)
    k[1, 2, 0, 5] *= 1.001
    message = rf"store {STORE}: variable 'K' at \{{'base_width': 1, 'draw': 2\}}: not symmetric"
    with pytest.raises(StoreInvalid, match=message):
        check_kernel(k, STORE)


def test_rounding_level_asymmetry_passes() -> None:
    k = _kernels(4, "float32")
    k[0, 0, 0, 5] = np.nextafter(k[0, 0, 0, 5], np.float32(np.inf))  # one ulp
    check_kernel(k, STORE)


def test_negative_and_zero_diagonals() -> None:
    k = _kernels(4, "float64")
    k[0, 1, 3, 3] = -1e-3
    with pytest.raises(StoreInvalid, match=r"diagonal K\[3, 3\] = -0.001, must be >= 0"):
        check_kernel(k, STORE)
    limit = _kernels(1, "float64")[0, 0]
    limit[2, 2] = 0.0
    check_kernel(limit, STORE)
    with pytest.raises(StoreInvalid, match=r"diagonal K\[2, 2\] = 0, must be > 0"):
        check_kernel(limit, STORE, positive=True)


def test_diagonal_far_above_its_reference_is_refused() -> None:
    k = _kernels(4, "float64")
    k[1, 0, 4, 4] = 0.9 * DIAG_MAX_RATIO * REFERENCE
    check_kernel(k, STORE, reference=REFERENCE)
    k[1, 0, 4, 4] = 1.1 * DIAG_MAX_RATIO * REFERENCE
    message = r"at \{'base_width': 1, 'draw': 0\}: diagonal K\[4, 4\] = .* exceeds 1e\+06"
    with pytest.raises(StoreInvalid, match=message):
        check_kernel(k, STORE, reference=REFERENCE)


def test_byte_swapped_kernels_are_refused() -> None:
    k = _kernels(MEAN_MIN_MATRICES, "float32")
    swapped = xr.DataArray(k.values.byteswap(), dims=k.dims)
    with pytest.raises(StoreInvalid, match=STORE):
        check_kernel(swapped, STORE, reference=REFERENCE)


def test_a_kernel_far_below_its_reference_is_refused_by_its_mean_over_many_draws() -> None:
    tiny = _kernels(MEAN_MIN_MATRICES, "float64") * 1e-9  # finite, symmetric, non-negative, 1e-9 x too small
    with pytest.raises(StoreInvalid, match=rf"mean diagonal / reference over {2 * MEAN_MIN_MATRICES} matrices"):
        check_kernel(tiny, STORE, reference=REFERENCE)
    # Over fewer draws every one may be dead (K = 0): no lower bound applies.
    check_kernel(tiny[:, : MEAN_MIN_MATRICES // 2 - 1], STORE, reference=REFERENCE)


def test_non_finite_values_name_store_and_index() -> None:
    k = _kernels(4)
    k[0, 1, 2, 3] = np.nan
    with pytest.raises(StoreInvalid, match=rf"store {STORE}: K has 1 non-finite"):
        check_kernel(k, STORE)
    ds = xr.Dataset({"op_rel": (("base_width", "draw"), np.array([[1.0, np.inf]]))})
    with pytest.raises(StoreInvalid, match=rf"store {STORE}: variable 'op_rel' has 1 non-finite.*'draw': 1"):
        check_finite_store(ds, STORE)


def test_bad_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="expected floating"):
        check_kernel(np.zeros((3, 4)), STORE)
    with pytest.raises(ValueError, match="reference diagonal must be finite and > 0"):
        check_kernel(np.eye(3), STORE, reference=0.0)
