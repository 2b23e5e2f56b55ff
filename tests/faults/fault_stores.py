"""Small stores of every kind the pipeline writes (builders for tests/faults; conftest writes them once).

Layouts follow the store contract of :mod:`ntk_eoc.storage.store`: dims, dtypes (float32 kernels,
float64 statistics, int64 and bool arrays, 0-d scalars, string coordinates) and chunking (gathered K
in (1, block, N, N) chunks). Values come from the library where that is cheap (dataset, limit,
spectrum) and from seeded Gram products elsewhere: the faults concern bytes, not the science.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from ntk_eoc.analysis.spectrum import limit_spectrum
from ntk_eoc.math.activations import Activation
from ntk_eoc.math.datasets import sphere
from ntk_eoc.math.limit import limit_layers
from ntk_eoc.storage.store import matrix_coords

SEED = 20240611  # the suite's seed (tests/conftest.py)
N_POINTS, INPUT_DIM, DEPTH = 4, 3, 3
DRAWS = 4


def _grams(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Symmetric PSD (..., N, N) float32 kernels with diagonal ~ DEPTH / N_POINTS."""
    a = np.random.default_rng(seed).standard_normal((*shape, N_POINTS, 16))
    return ((DEPTH / N_POINTS / 16) * np.einsum("...pk,...qk->...pq", a, a)).astype(np.float32)


def dataset_store() -> tuple[xr.Dataset, dict]:
    x = sphere(N_POINTS, INPUT_DIM, SEED)
    points, features = np.arange(N_POINTS, dtype=np.int64), np.arange(INPUT_DIM, dtype=np.int64)
    return xr.Dataset({"x": (("point", "feature"), x)}, coords={"point": points, "feature": features}), {}


def sample_store() -> tuple[xr.Dataset, dict]:
    k = _grams((DRAWS,), SEED + 1)
    coords = {"draw": np.arange(DRAWS, dtype=np.int64), **matrix_coords(N_POINTS, 1)}
    return xr.Dataset({"K": (("draw", "i", "j"), k)}, coords=coords), {}


def gathered_store() -> tuple[xr.Dataset, dict]:
    widths = np.array([8, 16], dtype=np.int64)
    ds = xr.Dataset(
        {
            "K": (("base_width", "draw", "i", "j"), _grams((2, DRAWS), SEED + 2)),
            "layer_widths": (("base_width", "level"), np.array([[3, 8, 8, 1], [3, 16, 16, 1]], dtype=np.int64)),
            "n_params": ("base_width", np.array([96, 320], dtype=np.int64)),
            "seconds_per_draw": ("base_width", np.array([0.01, 0.02])),
        },
        coords={"base_width": widths, "draw": np.arange(DRAWS, dtype=np.int64), **matrix_coords(N_POINTS, 1)},
    )
    return ds.assign_coords(level=np.arange(4, dtype=np.int64)), {"K": (1, DRAWS // 2, N_POINTS, N_POINTS)}


def limit_store() -> tuple[xr.Dataset, dict]:
    layers = limit_layers(sphere(N_POINTS, INPUT_DIM, SEED), Activation.named("relu"), DEPTH, 1)
    points = np.arange(N_POINTS, dtype=np.int64)
    lpq = ("layer", "p", "q")
    data = {"K_inf": (("i", "j"), layers.ntk), "nngp": (("p", "q"), layers.nngp)}
    data |= {"rho": (lpq, layers.rho), "one_minus_rho": (lpq, layers.one_minus_rho), "theta": (lpq, layers.theta)}
    coords = {"layer": np.arange(1, DEPTH + 1, dtype=np.int64), "p": points, "q": points}
    return xr.Dataset(data, coords={**coords, **matrix_coords(N_POINTS, 1)}), {}


def concentration_store() -> tuple[xr.Dataset, dict]:
    rng = np.random.default_rng(SEED + 3)
    dims = ("base_width", "draw")
    names = ("op_abs", "fro_abs", "max_abs", "op_rel", "fro_rel", "max_rel", "lambda_min", "lambda_max")
    data = {name: (dims, rng.uniform(0.1, 1.0, (2, DRAWS))) for name in names}
    data |= {"limit_lambda_min": ((), 0.2), "limit_lambda_max": ((), 1.9), "limit_cond": ((), 9.5)}
    data |= {
        "n_params": ("base_width", np.array([96, 320], dtype=np.int64)),
        "seconds_per_draw": ("base_width", [0.1, 0.2]),
    }
    coords = {"base_width": np.array([8, 16], dtype=np.int64), "draw": np.arange(DRAWS, dtype=np.int64)}
    return xr.Dataset(data, coords=coords), {}


def spectrum_store() -> tuple[xr.Dataset, dict]:
    ds = limit_spectrum(sphere(N_POINTS, INPUT_DIM, SEED), Activation.named("abs"), [2, 3, 5])
    return ds.assign_coords(activation="abs", input_dim=INPUT_DIM), {}


def min_eigen_store() -> tuple[xr.Dataset, dict]:
    rng = np.random.default_rng(SEED + 4)
    blocks = np.array(["full", "layer_1", "layer_2"])
    dims = ("draw", "block")
    ds = xr.Dataset(
        {
            "lambda_min": (dims, rng.uniform(0.0, 0.1, (DRAWS, 3))),
            "lambda_max": (dims, rng.uniform(1.0, 2.0, (DRAWS, 3))),
            "n_params": ("block", np.array([40, 12, 28], dtype=np.int64)),
            "rank_zero": ("block", np.array([False, True, False])),
        },
        coords={"draw": np.arange(DRAWS, dtype=np.int64), "block": blocks},
    )
    return ds, {}


KINDS: dict[str, Callable[[], tuple[xr.Dataset, dict]]] = {
    "dataset": dataset_store,
    "sample": sample_store,
    "gathered": gathered_store,
    "limit": limit_store,
    "concentration": concentration_store,
    "spectrum": spectrum_store,
    "min_eigen": min_eigen_store,
}
