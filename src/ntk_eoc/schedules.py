"""Layer widths m_0, ..., m_l from a base width m and a schedule.   [SCIENCE §1]

    quadratic  m_k = k^2 m      (the papers' schedule)
    linear     m_k = k m
    constant   m_k = m
    explicit   m_1..m_{l-1} given as a list
for the hidden layers k = 1..l-1; m_0 is the input dimension and m_l the output dimension.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

__all__ = ["DEFAULT_MAX_BYTES_PER_POINT", "SCHEDULES", "point_state_bytes", "widths"]

SCHEDULES = ("quadratic", "linear", "constant")
# float32 forward and backward state of one input point (see point_state_bytes); a draw over n
# points needs n times this, so 256 MiB per point is ~16 GiB for n = 64: above that, widths are
# almost surely a typo.
DEFAULT_MAX_BYTES_PER_POINT = 256 * 2**20
_BYTES_FLOAT32 = 4


def _positive_int(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ValueError(f"widths: {key} must be a positive integer, got {key}={value!r}")
    return int(value)


def point_state_bytes(layer_widths: Sequence[int]) -> int:
    """4 (2 + m_l) sum_{k=1}^{l} m_k: float32 bytes of h_k, phi'(h_k) and delta_k for one point."""
    out_dim = layer_widths[-1]
    return _BYTES_FLOAT32 * (2 + out_dim) * sum(layer_widths[1:])


def widths(
    schedule: str | Sequence[int],
    base_width: int | None,
    depth: int,
    input_dim: int,
    output_dim: int = 1,
    *,
    max_bytes_per_point: int | None = DEFAULT_MAX_BYTES_PER_POINT,
) -> list[int]:
    """[m_0, m_1, ..., m_l] with hidden widths from ``schedule``.

    Args:
        schedule: "quadratic" (m_k = k^2 m), "linear" (m_k = k m), "constant" (m_k = m), or an
            explicit list of the l - 1 hidden widths (then ``base_width`` is ignored and may be None).
        base_width: m >= 1.
        depth: number of weight layers l >= 1 (l = 1 is the linear model x -> W_1 x / sqrt(m_0)).
        input_dim: m_0 >= 1.
        output_dim: m_l >= 1.
        max_bytes_per_point: reject configurations whose per-point state
            (:func:`point_state_bytes`) exceeds this; None disables the check.

    Raises:
        ValueError: naming the offending key and value.

    Example:
        >>> widths("quadratic", 8, 4, input_dim=16, output_dim=1)
        [16, 8, 32, 72, 1]
    """
    depth = _positive_int("depth", depth)
    input_dim = _positive_int("input_dim", input_dim)
    output_dim = _positive_int("output_dim", output_dim)
    if isinstance(schedule, str):
        if schedule not in SCHEDULES:
            raise ValueError(f"widths: unknown schedule={schedule!r}; known: {', '.join(SCHEDULES)} or a list")
        m = _positive_int("base_width", base_width)
        factor = {"quadratic": lambda k: k * k, "linear": lambda k: k, "constant": lambda k: 1}[schedule]
        hidden = [factor(k) * m for k in range(1, depth)]
    else:
        hidden = list(schedule)
        if len(hidden) != depth - 1:
            raise ValueError(
                f"widths: an explicit schedule lists the {depth - 1} hidden widths of a depth-{depth} "
                f"network, got {len(hidden)}: schedule={hidden!r}"
            )
        hidden = [_positive_int(f"schedule[{k}]", w) for k, w in enumerate(hidden)]
    result = [input_dim, *hidden, output_dim]
    if max_bytes_per_point is not None:
        need = point_state_bytes(result)
        if need > max_bytes_per_point:
            raise ValueError(
                f"widths: widths={result} need {need / 2**20:.1f} MiB of state per input point, "
                f"over max_bytes_per_point={max_bytes_per_point} ({max_bytes_per_point / 2**20:.0f} MiB); "
                "lower base_width or raise max_bytes_per_point"
            )
    return result
