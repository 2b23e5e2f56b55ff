"""Stage min_eigen: extreme eigenvalues of the NTK and of its layer blocks, per draw, for one block of draws.

For each draw s of the run at base width m, the per-layer blocks K_k (``sample_kernels(...,
per_layer=True)``, float64) are sampled in small batches, and for the full NTK K = sum_k K_k and for
each block K_k the smallest and largest eigenvalues are stored; the N x N kernels themselves are never
stored (at N = 3000 one block of one draw is 72 MB).

Store ``min_eigen/<run>/m~<w>/draws_<a>-<b>.zarr``:

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
(:func:`ntk_eoc.eigen.rank_bound_zero`). lambda_max is then computed alone: by Lanczos
(:func:`ntk_eoc.eigen.largest_eigenvalue`).

Convention: K = [(1/n) K_theta(x_i, x_j)] (SCIENCE.md). Bombari, Amani, Mondelli (NeurIPS 2022) use
the NTK without the 1/n factor: their lambda_min is n times the stored one.

Attributes: the provenance of :func:`ntk_eoc.store.provenance` plus ``run``, ``base_width``,
``layer_widths``, ``draw_start``, ``draw_stop``, ``seed``, ``dtype``, ``sampler_method``, ``init``,
``ranks``, ``n_points``, ``input_dim``, ``draw_batch`` (draws sampled at once), ``sampling_seconds``,
``eigen_seconds`` (all eigenvalue solver calls), ``wall_time_s`` and ``seconds_per_draw``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..config import BASE_MEM_MB
from ..eigen import extreme_eigenvalues, largest_eigenvalue, rank_bound_zero
from ..store import open_store, provenance, write_store
from . import setup_logging
from .sampling import draw_block_parser, job_architecture

__all__ = [
    "block_names",
    "block_params",
    "block_spectra",
    "mem_mb",
    "mem_mb_input",
    "min_eigen_draws",
    "params_input",
    "store_paths",
]

# float64 N x N matrices alive besides the sampled batch: the full K, its symmetrised copy, LAPACK work.
_EIGEN_MATRICES = 4


def block_names(depth: int) -> list[str]:
    """``["full", "layer_1", ..., "layer_l"]``."""
    return ["full", *(f"layer_{k}" for k in range(1, depth + 1))]


def block_params(arch) -> list[int]:
    """P per block: the network's parameter count, then each layer's (:class:`Architecture`)."""
    return [arch.n_params, *arch.layer_params()]


def block_spectra(layers: np.ndarray, params: Sequence[int]) -> tuple[np.ndarray, np.ndarray, float]:
    """(lambda_min, lambda_max, solver seconds) of K = sum_k K_k and of each K_k, in block order.

    Args:
        layers: (l, N, N) per-layer kernels of one draw.
        params: P per block (:func:`block_params`), l + 1 entries.
    """
    n = layers.shape[-1]
    matrices = [layers.sum(axis=0), *layers]
    low, high = np.zeros(len(matrices)), np.zeros(len(matrices))
    began = time.perf_counter()
    for b, (matrix, p) in enumerate(zip(matrices, params, strict=True)):
        if rank_bound_zero(n, int(p)):
            low[b], high[b] = 0.0, largest_eigenvalue(matrix)
        else:
            low[b], high[b] = extreme_eigenvalues(matrix)
    return low, high, time.perf_counter() - began


def min_eigen_draws(
    x: np.ndarray,
    arch,
    draws: Sequence[int],
    seed: int,
    method: str,
    *,
    batch: int | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> xr.Dataset:
    """The min_eigen dataset (module doc) of ``draws`` for the network ``arch`` on inputs ``x``.

    Draws are sampled ``batch`` at a time (default :func:`ntk_eoc.samplers.batch_size` with
    per_layer), so at most one batch of per-layer kernels is in memory. Needs ``jax_enable_x64``.
    Attributes ``sampling_seconds`` and ``eigen_seconds`` are set on the result.
    """
    from .. import samplers

    ids = np.asarray(draws, dtype=np.int64)
    n = x.shape[0]
    size = n * arch.widths[-1]
    method = samplers.choose_method(arch, n) if method == "auto" else method
    batch = batch or samplers.batch_size(method, arch, n, 8, per_layer=True)
    params = block_params(arch)
    low = np.zeros((ids.size, arch.depth + 1))
    high = np.zeros_like(low)
    sampling = eigen = 0.0
    began = time.perf_counter()
    for start in range(0, ids.size, batch):
        chunk = ids[start : start + batch]
        tick = time.perf_counter()
        layers = samplers.sample_kernels(
            x, arch.activation, arch.widths, chunk, seed, method, "float64",
            ranks=arch.ranks, init=arch.init, per_layer=True,
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
    ds.attrs.update(sampling_seconds=sampling, eigen_seconds=eigen, draw_batch=int(batch), sampler_method=method)
    return ds


def mem_mb(run, base_width: int) -> int:
    """Memory request of one min_eigen job (MB): a base, one per-layer batch twice (the compiled
    output and its host copy) and :data:`_EIGEN_MATRICES` float64 N x N matrices for the solver.

    Independent of ``draws_per_job``: draws are processed batch by batch. At N = 3000, depth 3 and
    d ~ 1000 one draw in flight is ~ (l + 1) x 72 MB, and the request is ~ 2.1 GB.
    """
    from .. import samplers

    arch, n = run.architecture(base_width), run.dataset["n_points"]
    method = samplers.choose_method(arch, n) if run.sampler["method"] == "auto" else run.sampler["method"]
    batch = samplers.batch_size(method, arch, n, 8, per_layer=True)
    per_draw = samplers.draw_bytes(method, arch, n, 8, per_layer=True)
    size = n * run.output_dim
    return BASE_MEM_MB + int((2 * batch * per_draw + _EIGEN_MATRICES * size * size * 8) / 2**20)


# --- Input, params and resources functions of the rules (workflow/rules/min_eigen.smk) -------------------


def params_input(runs: Mapping[str, Any]) -> Callable[[Any], str]:
    """Params function of rule min_eigen: the run's sampling params plus its dataset and study (JSON)."""

    def params(wildcards) -> str:
        run = runs[wildcards.run]
        tree = {**run.sampling_params(int(wildcards.width)), "dataset": run.dataset, "study": run.study}
        return json.dumps(tree, sort_keys=True)

    return params


def mem_mb_input(runs: Mapping[str, Any]) -> Callable[[Any], int]:
    """Resources function of rule min_eigen: :func:`mem_mb` of the job's run and width."""
    return lambda wildcards: mem_mb(runs[wildcards.run], int(wildcards.width))


def store_paths(runs: Mapping[str, Any], results: str) -> list[str]:
    """Every min_eigen store of the experiment: all runs, base widths and draw blocks."""
    return [
        f"{results}/min_eigen/{rid}/m~{width}/draws_{start}-{stop}.zarr"
        for rid, run in runs.items()
        for width in run.base_widths
        for start, stop in run.blocks()
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Extreme eigenvalues per block for draws start..stop-1 of the run ``--config`` on ``--dataset``."""
    args = draw_block_parser(__doc__).parse_args(argv)
    log = setup_logging()
    cfg: dict[str, Any] = args.config
    sampler = cfg["sampler"]
    if sampler["dtype"] != "float64":
        raise SystemExit(f"min_eigen: sampler.dtype must be float64, got {sampler['dtype']!r}")

    import jax

    jax.config.update("jax_enable_x64", True)
    x = open_store(args.dataset)["x"].values
    arch = job_architecture(cfg)
    activation, layer_widths, ranks, init = arch.activation, arch.widths, cfg.get("ranks"), arch.init
    start, stop = args.draws
    log.info(
        "run %s: %s (init %s), widths %s, n=%d, draws %d..%d, P=%d, per layer %s",
        args.run, activation.name, init, list(layer_widths), x.shape[0], start, stop - 1, arch.n_params,
        list(arch.layer_params()),
    )  # fmt: skip

    def progress(done: int, total: int, seconds: float) -> None:
        log.info("draws %d/%d done (%.2f s)", done, total, seconds)

    began = time.perf_counter()
    ds = min_eigen_draws(x, arch, range(start, stop), sampler["seed"], sampler["method"], progress=progress)
    wall = time.perf_counter() - began
    for block in ds.block.values:
        row = ds.sel(block=block)
        log.log(
            logging.INFO,
            "%-8s P=%-9d rank_zero=%-5s lambda_min mean %.6g, lambda_max mean %.6g",
            block, int(row.n_params), bool(row.rank_zero), float(row.lambda_min.mean()), float(row.lambda_max.mean()),
        )  # fmt: skip
    attrs = provenance(
        cfg,
        stage="min_eigen",
        run=args.run,
        base_width=cfg["base_width"],
        layer_widths=list(layer_widths),
        draw_start=start,
        draw_stop=stop,
        seed=sampler["seed"],
        dtype="float64",
        ranks=ranks,
        init=init,
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
