"""Cost and memory of one sampled draw, per linear map: the route choice of the conditioned sampler and
the batch size, without JAX (the workflow plans memory requests with it at parse time).   [SCIENCE §5]

Cost model (flop-equivalents of a float32 matmul), its constants calibrated by
``benchmarks/calibrate_cost.py`` (benchmarks/README.md, Constants): one threefry N(0,1) draw costs
:data:`GAUSSIAN_FLOPS` matmul flops, a float64 matmul flop a few float32 ones, and the float64
factorization of an n x n Gram (:func:`conditioning.gram_factors`, a Cholesky and a triangular inverse
when G is well conditioned) ``FACTOR_CUBIC n^3 + FACTOR_SQUARE n^2``. It is used only to choose, per
linear map, between drawing the weights and conditioning on the inputs (:func:`choose_maps`); the memory
model (:func:`draw_bytes`) sizes batches and job requests. :func:`draw_cost` gathers the route, the bytes,
the batch and the flops of one network's draw, so the workflow computes them once per network.
"""

from __future__ import annotations

import dataclasses
import enum

from .architecture import Architecture

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DType",
    "DrawCost",
    "Method",
    "batch_size",
    "choose_maps",
    "choose_method",
    "draw_bytes",
    "draw_cost",
    "gaussian_blocks",
    "map_cost",
    "resolve_method",
]


class Method(enum.StrEnum):
    """Sampling route: draw every weight, condition on the inputs, or pick per configuration."""

    AUTO = "auto"
    EXPLICIT = "explicit"
    CONDITIONED = "conditioned"


class DType(enum.StrEnum):
    """Floating dtype of sampled kernels (float64 needs 64-bit JAX)."""

    FLOAT32 = "float32"
    FLOAT64 = "float64"

    @property
    def itemsize(self) -> int:
        """Bytes per entry."""
        return 8 if self == DType.FLOAT64 else 4


# Flop-equivalents of one N(0, 1) draw (module doc).
GAUSSIAN_FLOPS = 500.0
# Cost of a float64 matmul flop in float32 matmul flops (module doc).
FLOAT64_FLOPS = 2.0
# Flop-equivalents of the float64 factorization of an n x n Gram: FACTOR_CUBIC n^3 + FACTOR_SQUARE n^2.
FACTOR_CUBIC = 5.0
FACTOR_SQUARE = 2500.0
# Reject a configuration whose single draw needs more than this (sample_kernels(max_bytes=...) overrides it;
# the workflow refuses such a base width when it plans the run).
DEFAULT_MAX_BYTES = 8 * 2**30
# Memory for one compiled batch of draws on the CPU; the batch size follows from it (see batch_size).
BATCH_BYTES = 256 * 2**20
MAX_BATCH = 32


def factor_cost(size: int) -> float:
    """Flop-equivalents of the float64 factorization of a size x size Gram (module doc)."""
    return FACTOR_CUBIC * size**3 + FACTOR_SQUARE * size**2


def map_cost(conditioned: bool, fan_in: int, fan_out: int, n: int, out_dim: int, back: bool) -> float:
    """Flop-equivalents of one linear map (m_in = fan_in, m_out = fan_out) in one draw, float32 Gram
    products excluded (common to both routes); ``back``: the backward pass goes through it (not the first
    map). With G = GAUSSIAN_FLOPS, F = FLOAT64_FLOPS, E(s) = :func:`factor_cost`, r_D = min(m_out, n m_l):

    explicit:    G m_out m_in + 2 n m_out m_in + [back] 2 n m_l m_out m_in
    conditioned: G n m_out + 2 n^2 m_out + E(n) + (2F - 1) 2 n^2 m_in     (R^T Z1; G's factors; B B^T, Q in float64)
                 + [back] (G m_in r_D + 2 n m_l (n m_out + m_in r_D + 2 n m_in) + [r_D = n m_l] E(n m_l))
    """
    g, m_in, m_out = GAUSSIAN_FLOPS, fan_in, fan_out
    if not conditioned:
        return g * m_out * m_in + 2 * n * m_out * m_in + back * 2 * n * out_dim * m_out * m_in
    rows = n * out_dim
    r_d = min(m_out, rows)
    cost = g * n * m_out + 2 * n * n * m_out + factor_cost(n) + (2 * FLOAT64_FLOPS - 1) * 2 * n * n * m_in
    if back:
        cost += g * m_in * r_d + 2 * rows * (n * m_out + m_in * r_d + 2 * n * m_in)
        cost += factor_cost(rows) if r_d == rows else 0.0
    return cost


def choose_maps(arch: Architecture, n: int) -> tuple[bool, ...]:
    """Per linear map of the chain: condition it (True) or draw it explicitly, whichever
    :func:`map_cost` says is cheaper. Maps narrower than n (or n m_l), and the thin output map, go explicit."""
    out_dim = arch.widths[-1]
    return tuple(
        map_cost(True, m.fan_in, m.fan_out, n, out_dim, j > 0) < map_cost(False, m.fan_in, m.fan_out, n, out_dim, j > 0)
        for j, m in enumerate(arch.maps)
    )


def choose_method(arch: Architecture, n: int) -> Method:
    """'auto': conditioned if conditioning any map is cheaper (:func:`choose_maps`), else explicit."""
    return Method.CONDITIONED if any(choose_maps(arch, n)) else Method.EXPLICIT


def resolve_method(method: Method | str, arch: Architecture, n: int) -> Method:
    """``method``, with auto replaced by :func:`choose_method`."""
    method = Method(method)
    return choose_method(arch, n) if method == Method.AUTO else method


def gaussian_blocks(method: Method | str, arch: Architecture, n: int) -> tuple[tuple[int, int], ...]:
    """Shapes of the N(0, 1) blocks one draw generates: W (m_out x m_in) per explicit map; per conditioned
    map, Z1 (n x m_out) and, when the backward pass goes through it, Z3^T (n m_l x m_in), or G'^T
    (m_out x m_in) when m_out < n m_l."""
    maps, out_dim = arch.maps, arch.widths[-1]
    routes = choose_maps(arch, n) if resolve_method(method, arch, n) == Method.CONDITIONED else (False,) * len(maps)
    blocks: list[tuple[int, int]] = []
    for j, (conditioned, m) in enumerate(zip(routes, maps, strict=True)):
        if not conditioned:
            blocks.append((m.fan_out, m.fan_in))
            continue
        blocks.append((n, m.fan_out))
        if j > 0:
            blocks.append((min(m.fan_out, n * out_dim), m.fan_in))
    return tuple(blocks)


def draw_bytes(method: Method | str, arch: Architecture, n: int, itemsize: int, per_layer: bool = False) -> int:
    """Peak-memory model of one draw in bytes: arrays alive at once, per map, in entries of ``itemsize``

    explicit:    4 m_out m_in + 3 n m_out + n m_l m_out  (W, and the generator's temporaries: measured
                 3.5-4.4 W at m = 1024, 4096 in benchmarks/README.md)
    conditioned: m_in n + 4 n m_out + 3 m_in n m_l + 2 n m_l m_out,  plus 16 m_in n bytes (float64 B and Q)

    plus the output, (n m_l)^2 (times J + 1 for J maps with per_layer, else 2).
    """
    maps, out_dim = arch.maps, arch.widths[-1]
    routes = choose_maps(arch, n) if Method(method) == Method.CONDITIONED else (False,) * len(maps)
    entries, float64_bytes = 0, 0
    for conditioned, m in zip(routes, maps, strict=True):
        m_in, m_out = m.fan_in, m.fan_out
        if conditioned:
            entries += m_in * n + 4 * n * m_out + 3 * m_in * n * out_dim + 2 * n * out_dim * m_out
            float64_bytes += 16 * m_in * n
        else:
            entries += 4 * m_out * m_in + 3 * n * m_out + n * out_dim * m_out
    entries += (n * out_dim) ** 2 * (len(maps) + 1 if per_layer else 2)
    return int(entries * itemsize + float64_bytes)


def batch_size(
    method: Method | str,
    arch: Architecture,
    n: int,
    itemsize: int,
    per_layer: bool = False,
    *,
    budget_bytes: int = BATCH_BYTES,
    max_batch: int = MAX_BATCH,
) -> int:
    """Draws dispatched together (asynchronously) before the host collects them:
    floor(budget_bytes / draw_bytes) clipped to [1, max_batch], which bounds the memory in flight.

    The defaults (256 MiB, 32 draws) are the CPU's; a sampler on an accelerator passes a budget from the
    device's memory (:func:`ntk_eoc.math.samplers.device_batch_budget`). Each draw runs through its own
    call of one compiled executable, so the batch size never changes a draw's bits."""
    per_draw = draw_bytes(method, arch, n, itemsize, per_layer)
    return int(min(max_batch, max(1, budget_bytes // max(per_draw, 1))))


@dataclasses.dataclass(frozen=True)
class DrawCost:
    """One draw of a network on n points as the cost model sizes it: the resolved ``method``, the route of
    each map (True: conditioned), the bytes one draw needs (:func:`draw_bytes`), the draws of one batch at
    the CPU budget (:func:`batch_size`), and the flop-equivalents of the chain (:func:`map_cost` summed)."""

    method: Method
    routes: tuple[bool, ...]
    bytes: int
    batch: int
    flops: float


def draw_cost(method: Method | str, arch: Architecture, n: int, itemsize: int, per_layer: bool = False) -> DrawCost:
    """The :class:`DrawCost` of one draw of ``arch`` on n points (``method`` auto resolved here)."""
    method = resolve_method(method, arch, n)
    routes = choose_maps(arch, n) if method == Method.CONDITIONED else (False,) * len(arch.maps)
    out_dim = arch.widths[-1]
    flops = sum(
        map_cost(route, m.fan_in, m.fan_out, n, out_dim, j > 0)
        for j, (route, m) in enumerate(zip(routes, arch.maps, strict=True))
    )
    return DrawCost(
        method,
        tuple(routes),
        draw_bytes(method, arch, n, itemsize, per_layer),
        batch_size(method, arch, n, itemsize, per_layer),
        float(flops),
    )
