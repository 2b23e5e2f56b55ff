"""Resources of the jobs, without JAX: the memory request of each stage that samples (``mem_mb``) and the
size of the sampling jobs (which base widths one job samples), both from the run's one
:class:`~ntk_eoc.math.cost.DrawCost` per base width (:meth:`RunConfig.draw_cost`)."""

from __future__ import annotations

from .runs import RunConfig

__all__ = [
    "BASE_MEM_MB",
    "EIGEN_MATRICES",
    "GROUP_SECONDS",
    "draw_seconds",
    "min_eigen_mem_mb",
    "sample_mem_mb",
    "width_groups",
]

# Python, JAX and XLA compilation of one sampling job (its measured RSS rounded up: benchmarks/README.md, Constants).
BASE_MEM_MB = 1000
# float64 N x N matrices alive in a min_eigen job besides the sampled batch: the full K, its
# symmetrised copy, LAPACK work.
EIGEN_MATRICES = 4


def sample_mem_mb(cfg: RunConfig, widths: tuple[int, ...]) -> int:
    """Memory of one sampling job (MB): a base, one compiled batch of draws at the widest base width, and
    twice the job's kernels (the draws of every width, and their copy in the store)."""
    n, itemsize = cfg.dataset.n_points, cfg.sampler.dtype.itemsize
    cost = cfg.draw_cost(max(widths))
    kernels = len(widths) * cfg.sampler.draws_per_job * (n * cfg.output_dim) ** 2 * itemsize
    return BASE_MEM_MB + int((cost.batch * cost.bytes + 2 * kernels) / 2**20)


def min_eigen_mem_mb(cfg: RunConfig, base_width: int) -> int:
    """Memory of one min_eigen job (MB): a base, one per-layer batch twice (the compiled output and its
    host copy) and :data:`EIGEN_MATRICES` float64 N x N matrices for the solver. Independent of
    ``draws_per_job``: draws are processed batch by batch (at N = 3000, depth 3, d ~ 1000: ~2.1 GB)."""
    cost, size = cfg.draw_cost(base_width), cfg.dataset.n_points * cfg.output_dim
    itemsize = cfg.sampler.dtype.itemsize  # float64: study=min_eigen refuses any other dtype
    return BASE_MEM_MB + int((2 * cost.batch * cost.bytes + EIGEN_MATRICES * size * size * itemsize) / 2**20)


# Flop-equivalents per second of the cost model (ntk_eoc.math.cost.map_cost) on one CPU core (measured:
# benchmarks/README.md, Constants). Used only to size jobs, never to pick a value.
FLOPS_PER_SECOND = 2.8e10
# A sampling job computes for at least about this long, so its ~2 s of process start, imports and
# compilation stay a small part of it: base widths whose draw block is estimated below it are sampled
# together in one job (one store); the others get a job each.
GROUP_SECONDS = 10.0


def draw_seconds(cfg: RunConfig, base_width: int) -> float:
    """Estimated seconds of one draw at base width m (cost model, route chosen per map)."""
    return cfg.draw_cost(base_width).flops / FLOPS_PER_SECOND


def width_groups(cfg: RunConfig) -> list[tuple[int, ...]]:
    """The base widths of one sampling job each: every width whose block of ``draws_per_job`` draws is
    estimated below :data:`GROUP_SECONDS` in one group (ascending), every other width alone. A width's
    group depends only on its own cost, so a new base width adds a job or changes only the small group."""
    small = tuple(m for m in cfg.base_widths if cfg.sampler.draws_per_job * draw_seconds(cfg, m) < GROUP_SECONDS)
    large = [(m,) for m in cfg.base_widths if m not in small]
    return ([small] if small else []) + large
