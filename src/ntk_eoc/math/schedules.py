"""Layer widths m_0, ..., m_l from a base width m and a schedule.   [SCIENCE §1]

    quadratic  m_k = k^2 m      (the papers' schedule)
    linear     m_k = k m
    constant   m_k = m
    explicit   m_k = f_k m      (config: a list of factors f_1..f_{l-1}); library: the hidden widths
for the hidden layers k = 1..l-1; m_0 is the input dimension and m_l the output dimension.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..validate import MAX_DEPTH, InvalidValue, choice, integer

__all__ = [
    "SCHEDULES",
    "Schedule",
    "WidthSchedule",
    "widths",
]


class Schedule(enum.StrEnum):
    """The width schedules m_k(m) of the hidden layers."""

    QUADRATIC = "quadratic"
    LINEAR = "linear"
    CONSTANT = "constant"
    EXPLICIT = "explicit"


# The schedules given by name alone (explicit needs its factors).
SCHEDULES = ("quadratic", "linear", "constant")
_FACTOR = {"quadratic": lambda k: k * k, "linear": lambda k: k, "constant": lambda k: 1}


def widths(
    schedule: str | Sequence[int],
    base_width: int | None,
    depth: int,
    input_dim: int,
    output_dim: int = 1,
) -> list[int]:
    """[m_0, m_1, ..., m_l] with hidden widths from ``schedule``.

    Args:
        schedule: "quadratic" (m_k = k^2 m), "linear" (m_k = k m), "constant" (m_k = m), or an
            explicit list of the l - 1 hidden widths (then ``base_width`` is ignored and may be None).
        base_width: m >= 1.
        depth: number of weight layers l >= 1 (l = 1 is the linear model x -> W_1 x / sqrt(m_0)).
        input_dim: m_0 >= 1.
        output_dim: m_l >= 1.

    Memory is not checked here: the sampler refuses a draw whose cost model
    (:func:`ntk_eoc.math.cost.draw_bytes`) exceeds its cap.

    Raises:
        ValueError: naming the offending key and value.

    Example:
        >>> widths("quadratic", 8, 4, input_dim=16, output_dim=1)
        [16, 8, 32, 72, 1]
    """
    depth = integer("depth", depth, maximum=MAX_DEPTH, where="widths")
    input_dim = integer("input_dim", input_dim, where="widths")
    output_dim = integer("output_dim", output_dim, where="widths")
    if isinstance(schedule, str):
        if schedule not in SCHEDULES:
            raise InvalidValue("schedule", schedule, f"unknown; known: {', '.join(SCHEDULES)} or a list", "widths")
        m = integer("base_width", base_width, where="widths")
        hidden = [_FACTOR[schedule](k) * m for k in range(1, depth)]
    else:
        hidden = list(schedule)
        if len(hidden) != depth - 1:
            raise InvalidValue(
                "schedule", hidden, f"an explicit schedule lists the {depth - 1} hidden widths of a depth-{depth} "
                f"network, got {len(hidden)}", "widths",
            )  # fmt: skip
        hidden = [integer(f"schedule[{k}]", w, where="widths") for k, w in enumerate(hidden)]
    return [input_dim, *hidden, output_dim]


@dataclass(frozen=True)
class WidthSchedule:
    """A schedule as configured: a name, and for ``explicit`` the factors f_1..f_{l-1} (m_k = f_k m).

    Example:
        >>> WidthSchedule.from_config({"name": "explicit", "factors": [2, 3]}).widths(4, 3, 4, 1)
        [4, 8, 12, 1]
    """

    name: Schedule
    factors: tuple[int, ...] | None = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any], depth: int | None = None) -> WidthSchedule:
        """The schedule of a config section ``{name, factors}``; InvalidValue naming the bad key."""
        for key in section:
            if key not in ("name", "factors"):
                raise InvalidValue(key, section[key], "unknown key; allowed: name, factors")
        name = choice("name", section.get("name"), Schedule)
        factors = section.get("factors")
        if name != Schedule.EXPLICIT:
            if factors is not None:
                raise InvalidValue("factors", factors, f"is only used by the explicit schedule, not {str(name)!r}")
            return cls(name)
        count = None if depth is None else depth - 1
        if (
            isinstance(factors, (str, bytes))
            or not isinstance(factors, Sequence)
            or (count is not None and len(factors) != count)
        ):
            raise InvalidValue("factors", factors, f"must list depth - 1 = {count} positive integers")
        return cls(name, tuple(integer(f"factors[{k}]", f) for k, f in enumerate(factors)))

    def config(self) -> dict[str, Any]:
        """The config section: ``{name}``, plus ``factors`` for explicit."""
        out: dict[str, Any] = {"name": str(self.name)}
        if self.factors is not None:
            out["factors"] = list(self.factors)
        return out

    def factors_at(self, depth: int) -> tuple[int, ...]:
        """The factors f_1..f_{l-1} (m_k = f_k m) of a depth-l network."""
        if self.name == Schedule.EXPLICIT:
            return tuple(self.factors or ())
        return tuple(_FACTOR[str(self.name)](k) for k in range(1, depth))

    def canonical(self, depth: int) -> WidthSchedule:
        """The schedule that names this one's depth-l networks: the first of constant, linear, quadratic
        with the same factors, else this one. Networks of different schedules but the same widths (every
        schedule at depth <= 2, where m_1 = m; explicit [1, 1] and constant) are one network: sampled,
        stored and summarised once (SCIENCE §8.5).

        Example:
            >>> WidthSchedule(Schedule.QUADRATIC).canonical(2).name, WidthSchedule(Schedule.QUADRATIC).canonical(3).name
            ('constant', 'quadratic')
        """
        factors = self.factors_at(depth)
        for name in (Schedule.CONSTANT, Schedule.LINEAR, Schedule.QUADRATIC):
            if WidthSchedule(name).factors_at(depth) == factors:
                return WidthSchedule(name)
        return self

    def widths(self, base_width: int, depth: int, input_dim: int, output_dim: int) -> list[int]:
        """[m_0, ..., m_l] at base width m (:func:`widths`)."""
        if self.name == Schedule.EXPLICIT:
            return widths([f * base_width for f in self.factors or ()], base_width, depth, input_dim, output_dim)
        return widths(str(self.name), base_width, depth, input_dim, output_dim)
