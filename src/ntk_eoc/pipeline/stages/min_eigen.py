"""Stage min_eigen: extreme eigenvalues of the NTK and of its layer blocks, per draw, for one block of draws.

For each draw s of the run at base width m, the per-layer blocks K_k (``sample_kernels(...,
per_layer=True)``, float64) are sampled in small batches, and for the full NTK K = sum_k K_k and for
each block K_k the smallest and largest eigenvalues are stored; the N x N kernels themselves are never
stored (at N = 3000 one block of one draw is 72 MB).

Store ``min_eigen/<sample key>/m~<w>/draws_<a>-<b>.zarr``:

==================  ==============  ==============================================================
variable            dims            content
==================  ==============  ==============================================================
``lambda_min``      (draw, block)   smallest eigenvalue (float64); exactly 0 when ``rank_zero``
``lambda_max``      (draw, block)   largest eigenvalue (float64)
``n_params``        (block)         P_block: parameters of the network ("full") or of layer k
``rank_zero``       (block)         N > P_block: lambda_min = 0 by the rank bound, solver skipped
==================  ==============  ==============================================================

``block`` is ``"full", "layer_1", ..., "layer_l"``; N = n m_l is the size of K. Rank bound: K_k =
Phi_k Phi_k^T with Phi_k the N x P_k Jacobian of layer k, so rank K_k <= P_k and rank K <= P; when
N > P_block, lambda_min = 0 exactly and a float solver would only return rounding noise of size
eps N lambda_max (of either sign), so 0 is stored and the O(N^3) solver is skipped
(:func:`ntk_eoc.math.eigen.rank_bound_zero`). lambda_max is then computed alone: by Lanczos
(:func:`ntk_eoc.math.eigen.largest_eigenvalue`).

Convention: K = [(1/n) K_theta(x_i, x_j)] (SCIENCE §2). Bombari, Amani, Mondelli (NeurIPS 2022) use
the NTK without the 1/n factor: their lambda_min is n times the stored one.

Attributes: the provenance of :func:`ntk_eoc.storage.store.provenance` plus ``key``, ``base_width``,
``layer_widths``, ``draw_start``, ``draw_stop``, ``weight_seed``, ``dtype``, ``sampler_method``, ``init``,
``ranks``, ``n_points``, ``input_dim``, ``draw_batch`` (draws sampled at once), ``sampling_seconds``,
``eigen_seconds`` (all eigenvalue solver calls), ``wall_time_s`` and ``seconds_per_draw``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from ...math.architecture import Architecture
from ...math.cost import Method
from ...math.eigen import block_names, block_params, block_spectra, rank_bound_zero
from ...storage.store import open_store, provenance, write_store
from .. import program_cache
from ..specs import MinEigenSpec
from . import setup_logging
from .sample import draw_block_parser

__all__ = ["min_eigen_draws"]


def min_eigen_draws(
    x: np.ndarray,
    arch: Architecture,
    draws: Sequence[int],
    weight_seed: int,
    method: Method | str,
    routes: Sequence[bool] | None,
    batch: int,
    *,
    progress: Callable[[int, int, float], None] | None = None,
) -> xr.Dataset:
    """The min_eigen dataset (module doc) of ``draws`` for the network ``arch`` on inputs ``x``, the weights
    keyed by ``weight_seed`` and drawn by ``method`` with per-map ``routes`` (conditioned only; None: the cost
    model's), ``batch`` draws at a time, so at most one batch of per-layer kernels is in memory. Needs
    ``jax_enable_x64``. Attributes ``sampling_seconds`` and ``eigen_seconds`` are set on the result.
    """
    from ...math.samplers import sample_kernels

    ids = np.asarray(draws, dtype=np.int64)
    size = x.shape[0] * arch.widths[-1]
    params = block_params(arch)
    low = np.zeros((ids.size, arch.depth + 1))
    high = np.zeros_like(low)
    sampling = eigen = 0.0
    began = time.perf_counter()
    for start in range(0, ids.size, batch):
        chunk = ids[start : start + batch]
        tick = time.perf_counter()
        # max_bytes=None: the plan checked the memory of a draw against sampler.max_gib
        layers = sample_kernels(
            x, arch, draws=chunk, seed=weight_seed, method=method, dtype="float64", per_layer=True, routes=routes,
            max_bytes=None,
        )  # fmt: skip
        sampling += time.perf_counter() - tick
        for j, draw_layers in enumerate(layers):
            low[start + j], high[start + j], seconds = block_spectra(draw_layers, params)
            eigen += seconds
        del layers
        if progress is not None:
            progress(start + chunk.size, ids.size, time.perf_counter() - began)
    names = block_names(arch.depth)
    ds = xr.Dataset(
        {
            "lambda_min": (("draw", "block"), low),
            "lambda_max": (("draw", "block"), high),
            "n_params": ("block", np.asarray(params, dtype=np.int64)),
            "rank_zero": ("block", np.array([rank_bound_zero(size, p) for p in params])),
        },
        coords={"draw": ids, "block": names},
    )
    ds.attrs.update(sampling_seconds=sampling, eigen_seconds=eigen, draw_batch=int(batch), sampler_method=str(method))
    return ds


def main(argv: Sequence[str] | None = None) -> None:
    """Extreme eigenvalues per block for draws start..stop-1 of the network of ``--spec`` on ``--dataset``."""
    args = draw_block_parser(__doc__, MinEigenSpec).parse_args(argv)
    log = setup_logging()
    spec: MinEigenSpec = args.spec

    import jax

    jax.config.update("jax_enable_x64", True)
    log.info("JAX compilation cache: %s", program_cache.install())
    x = open_store(args.dataset)["x"].values
    arch = spec.architecture
    start, stop = args.draws
    log.info(
        "run %s: %s (init %s), widths %s, n=%d, draws %d..%d, P=%d, per layer %s",
        spec.key, arch.activation.name, arch.init, list(arch.widths), x.shape[0], start, stop - 1, arch.n_params,
        list(arch.layer_params()),
    )  # fmt: skip

    def progress(done: int, total: int, seconds: float) -> None:
        log.info("draws %d/%d done (%.2f s)", done, total, seconds)

    began = time.perf_counter()
    routes = spec.routes if spec.method == Method.CONDITIONED else None
    ids = range(start, stop)
    ds = min_eigen_draws(x, arch, ids, spec.weight_seed, spec.method, routes, spec.batch, progress=progress)
    wall = time.perf_counter() - began
    for block in ds.block.values:
        row = ds.sel(block=block)
        log.log(
            logging.INFO,
            "%-8s P=%-9d rank_zero=%-5s lambda_min mean %.6g, lambda_max mean %.6g",
            block, int(row.n_params), bool(row.rank_zero), float(row.lambda_min.mean()), float(row.lambda_max.mean()),
        )  # fmt: skip
    attrs = provenance(
        spec.config(),
        stage="min_eigen",
        key=spec.key,
        base_width=spec.base_width,
        layer_widths=list(arch.widths),
        draw_start=start,
        draw_stop=stop,
        weight_seed=spec.weight_seed,
        dtype="float64",
        activation=arch.activation.config(),
        ranks=arch.config()["ranks"],
        init=str(arch.init),
        n_points=int(x.shape[0]),
        input_dim=int(x.shape[1]),
        wall_time_s=wall,
        seconds_per_draw=wall / (stop - start),
        **ds.attrs,
    )
    ds.attrs = {}
    write_store(ds, args.output, attrs)
    log.info(
        "wrote %s: %d draws in %.2f s (sampling %.2f s, eigenvalues %.2f s)",
        args.output, stop - start, wall, attrs["sampling_seconds"], attrs["eigen_seconds"],
    )  # fmt: skip


if __name__ == "__main__":
    main()
