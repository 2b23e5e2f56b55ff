"""Resources of the jobs: the one memory model of each stage that requests memory (``mem_mb``), from the
run's architecture and the sampler's cost model (:mod:`ntk_eoc.math.cost`), without JAX."""

from __future__ import annotations

from ..math.cost import DType, batch_size, draw_bytes, resolve_method
from .runs import RunConfig

__all__ = ["BASE_MEM_MB", "EIGEN_MATRICES", "min_eigen_mem_mb", "sample_mem_mb"]

# Python, JAX and XLA compilation of one sampling job, measured at ~400-600 MB RSS; rounded up.
BASE_MEM_MB = 1000
# float64 N x N matrices alive in a min_eigen job besides the sampled batch: the full K, its
# symmetrised copy, LAPACK work.
EIGEN_MATRICES = 4


def sample_mem_mb(cfg: RunConfig, base_width: int) -> int:
    """Memory of one sampling job (MB): a base, one compiled batch of draws and twice the block."""
    arch, n, dtype = cfg.architecture(base_width), cfg.dataset.n_points, cfg.sampler.dtype
    method = resolve_method(cfg.sampler.method, arch, n)
    batch = batch_size(method, arch, n, dtype.itemsize)
    block = cfg.sampler.draws_per_job * (n * cfg.output_dim) ** 2 * dtype.itemsize
    return BASE_MEM_MB + int((batch * draw_bytes(method, arch, n, dtype.itemsize) + 2 * block) / 2**20)


def min_eigen_mem_mb(cfg: RunConfig, base_width: int) -> int:
    """Memory of one min_eigen job (MB): a base, one per-layer batch twice (the compiled output and its
    host copy) and :data:`EIGEN_MATRICES` float64 N x N matrices for the solver. Independent of
    ``draws_per_job``: draws are processed batch by batch (at N = 3000, depth 3, d ~ 1000: ~2.1 GB)."""
    arch, n, itemsize = cfg.architecture(base_width), cfg.dataset.n_points, DType.FLOAT64.itemsize
    method = resolve_method(cfg.sampler.method, arch, n)
    batch = batch_size(method, arch, n, itemsize, per_layer=True)
    per_draw = draw_bytes(method, arch, n, itemsize, per_layer=True)
    size = n * cfg.output_dim
    return BASE_MEM_MB + int((2 * batch * per_draw + EIGEN_MATRICES * size * size * itemsize) / 2**20)
