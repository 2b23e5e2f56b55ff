"""Cost and memory of one sampled draw, per linear map: the route choice of the conditioned sampler and
the batch size, without JAX (the workflow plans memory requests with it at parse time).   [SCIENCE §5]

Cost model (flop-equivalents), measured on a 2-core x86 CPU with jaxlib 0.12 in float32: one threefry
N(0,1) draw takes ~14 ns, the time of ~500 matmul flops; Householder QR runs at ~1/3 of matmul speed.
It is used only to choose, per linear map, between drawing the weights and conditioning on the inputs
(:func:`choose_maps`); the memory model (:func:`draw_bytes`) sizes batches and job requests.
"""

from __future__ import annotations

import enum

from .architecture import Architecture

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DType",
    "Method",
    "batch_size",
    "choose_maps",
    "choose_method",
    "draw_bytes",
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
# Householder QR flops relative to matmul flops (module doc).
QR_FLOPS = 3.0
# Reject a configuration whose single draw needs more than this (sample_kernels(max_bytes=...) overrides it;
# the workflow refuses such a base width when it plans the run).
DEFAULT_MAX_BYTES = 8 * 2**30
# Memory for one compiled batch of draws; the batch size follows from it (see batch_size).
BATCH_BYTES = 256 * 2**20
MAX_BATCH = 32


def map_cost(conditioned: bool, fan_in: int, fan_out: int, n: int, out_dim: int, back: bool) -> float:
    """Flop-equivalents of one linear map (m_in = fan_in, m_out = fan_out) in one draw, Gram products
    excluded (common to both routes); ``back``: the backward pass goes through it (not the first map):

    explicit:    G m_out m_in + 2 n m_out m_in + [back] 2 n m_l m_out m_in
    conditioned: 3 * 4 m_in r^2 + G r m_out + 2 n r m_out
                 + [back] (G m_in r_D + 2 n m_l (r m_out + m_in r_D + 2 m_in r))
    with G = 500 (one Gaussian), r = min(m_in, n), r_D = min(m_out, n m_l).
    """
    g, m_in, m_out = GAUSSIAN_FLOPS, fan_in, fan_out
    if not conditioned:
        return g * m_out * m_in + 2 * n * m_out * m_in + back * 2 * n * out_dim * m_out * m_in
    r, r_d = min(m_in, n), min(m_out, n * out_dim)
    cost = QR_FLOPS * 4 * m_in * r**2 + g * r * m_out + 2 * n * r * m_out
    if back:
        cost += g * m_in * r_d + 2 * n * out_dim * (r * m_out + m_in * r_d + 2 * m_in * r)
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


def draw_bytes(method: Method | str, arch: Architecture, n: int, itemsize: int, per_layer: bool = False) -> int:
    """Peak-memory model of one draw in bytes (arrays alive at once, x itemsize), per map

    explicit:    m_out m_in + 3 n m_out + n m_l m_out
    conditioned: m_in r + r m_out + 3 n m_out + m_in n m_l + 2 n m_l m_out
    plus the output, (n m_l)^2 (times J + 1 for J maps with per_layer, else 2).
    """
    maps, out_dim = arch.maps, arch.widths[-1]
    routes = choose_maps(arch, n) if Method(method) == Method.CONDITIONED else (False,) * len(maps)
    entries = 0
    for conditioned, m in zip(routes, maps, strict=True):
        m_in, m_out, r = m.fan_in, m.fan_out, min(m.fan_in, n)
        if conditioned:
            entries += m_in * r + r * m_out + 3 * n * m_out + m_in * n * out_dim + 2 * n * out_dim * m_out
        else:
            entries += m_out * m_in + 3 * n * m_out + n * out_dim * m_out
    entries += (n * out_dim) ** 2 * (len(maps) + 1 if per_layer else 2)
    return int(entries * itemsize)


def batch_size(method: Method | str, arch: Architecture, n: int, itemsize: int, per_layer: bool = False) -> int:
    """Draws dispatched together (asynchronously) before the host collects them:
    floor(256 MiB / draw_bytes) clipped to [1, 32], which bounds the memory in flight."""
    per_draw = draw_bytes(method, arch, n, itemsize, per_layer)
    return int(min(MAX_BATCH, max(1, BATCH_BYTES // max(per_draw, 1))))
