"""Verdict rules of the claims tables: every rule can come out "holds", "fails" or "inconclusive".

A claim compares a measured quantity (a point value with a confidence interval [low, high], or a
sequence of exact estimates at increasing depths) with a prediction. Each rule states its margin, and
its :attr:`text` (printed under the claims table) says exactly when each verdict is given:

- :class:`Equivalence` (rates, flatness, the fluctuation law): holds when the CI lies inside
  predicted +- d, fails when the CI lies wholly outside that band, inconclusive otherwise. A wide CI
  is inconclusive, never a pass.
- :class:`AtMost` / :class:`AtLeast` (bounds, directions, growth): one threshold t = reference + margin;
  AtMost holds when high < t and fails when low > t, AtLeast the mirror image.
- :class:`Converges` (deep limits, SCIENCE §4): exact estimates e_1..e_K at increasing depths
  l_1 < ... < l_K of a quantity with a predicted limit p and an O(ln l / l) error (the order of every
  SCIENCE §4 form); gap_k = |e_k - p| (relative: / |p|). Holds when gap_K <= margin. Fails when
  gap_K > margin and gap_K / gap_{K-1} > sqrt(g(l_K) / g(l_{K-1})), g(l) = ln(l)/l: the gap shrinks by
  less than half (in log terms) of what an O(ln l / l) error would, as when the estimates approach a
  value other than p. Inconclusive otherwise (off, but approaching p at the expected rate; or one
  estimate only).

Rows true by a theorem carry :attr:`Verdict.BY_THEOREM` and :attr:`Kind.THEOREM`: nothing is measured.
NaN or inf reaching a rule raises ``ValueError``.

Every row has a :class:`Role`: a ``claim`` (what the papers or the law state, expected to hold), a
``control`` (the same rule on a configuration the theory says it does not cover, expected to fail: a
rule that cannot fail there tests nothing), or a ``calibration`` (an identity exact at these sizes,
which checks the estimator and is not a finding).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ...validate import finite_array, real

__all__ = [
    "COLUMNS",
    "AtLeast",
    "AtMost",
    "Converges",
    "Equivalence",
    "Kind",
    "Role",
    "Rule",
    "Verdict",
    "claim_row",
]

# The columns of every claims table: what is claimed, what kind of row it is and its role, the
# prediction, the measurement with its CI (NaN for exact or theorem rows), the rule's margin and text,
# the verdict.
COLUMNS = ("claim", "kind", "role", "predicted", "measured", "ci_low", "ci_high", "margin", "rule", "verdict")


class Verdict(enum.StrEnum):
    """Outcome of a claim row."""

    HOLDS = "holds"
    FAILS = "fails"
    INCONCLUSIVE = "inconclusive"
    BY_THEOREM = "by theorem"


class Kind(enum.StrEnum):
    """What a claim row compares: a measured rate or law, a proved upper bound, or a theorem (no measurement)."""

    MEASURED = "measured"
    BOUND = "bound"
    THEOREM = "theorem"


class Role(enum.StrEnum):
    """What a row is for (module doc): a claim, a negative control (expected to fail), a calibration."""

    CLAIM = "claim"
    CONTROL = "control"
    CALIBRATION = "calibration"


def _interval(low: float, high: float, where: str) -> tuple[float, float]:
    low, high = real("ci_low", low, where=where), real("ci_high", high, where=where)
    if low > high:
        raise ValueError(f"{where}: ci_low={low!r} > ci_high={high!r}")
    return low, high


def _margin(margin: float, where: str) -> float:
    out = real("margin", margin, where=where)
    if out < 0.0:
        raise ValueError(f"{where}: margin={margin!r}: must be >= 0")
    return out


class Rule(Protocol):
    """A verdict rule: its margin and the text that states it."""

    @property
    def margin(self) -> float: ...

    @property
    def text(self) -> str: ...


def claim_row(
    claim: str,
    kind: Kind,
    predicted: float,
    measured: float,
    ci: tuple[float, float],
    rule: Rule | str,
    verdict: Verdict,
    margin: float = math.nan,
    role: Role = Role.CLAIM,
) -> dict:
    """One row of :data:`COLUMNS`; a :class:`Rule` gives its own margin and text, a plain string keeps ``margin``."""
    text = rule if isinstance(rule, str) else rule.text
    margin = margin if isinstance(rule, str) else rule.margin
    role = Role(role)
    values = (claim, str(kind), str(role), float(predicted), float(measured), float(ci[0]), float(ci[1]), float(margin))
    return dict(zip(COLUMNS, (*values, text, str(verdict)), strict=True))


@dataclass(frozen=True)
class Equivalence:
    """Equivalence test of a CI against predicted +- d, d = margin (absolute) or margin |predicted| (relative)."""

    margin: float
    relative: bool = False

    def __post_init__(self) -> None:
        _margin(self.margin, "Equivalence")

    def half_width(self, predicted: float) -> float:
        """d: the half-width of the equivalence band around ``predicted``."""
        return self.margin * abs(predicted) if self.relative else self.margin

    def decide(self, predicted: float, low: float, high: float) -> Verdict:
        """holds: [low, high] inside [p - d, p + d]; fails: disjoint from it; else inconclusive."""
        p = real("predicted", predicted, where="Equivalence")
        low, high = _interval(low, high, "Equivalence")
        d = self.half_width(p)
        if p - d <= low and high <= p + d:
            return Verdict.HOLDS
        if high < p - d or low > p + d:
            return Verdict.FAILS
        return Verdict.INCONCLUSIVE

    @property
    def text(self) -> str:
        band = f"predicted x (1 +- {self.margin:g})" if self.relative else f"predicted +- {self.margin:g}"
        return (
            f"equivalence, margin {self.margin:g}{' relative' if self.relative else ''}: holds if the CI lies inside "
            f"{band}; fails if the CI lies wholly outside it; inconclusive otherwise"
        )


@dataclass(frozen=True)
class AtMost:
    """One-sided: the measured value is at most reference + margin."""

    margin: float = 0.0

    def __post_init__(self) -> None:
        _margin(self.margin, "AtMost")

    def decide(self, reference: float, low: float, high: float) -> Verdict:
        """holds: high < t; fails: low > t; else inconclusive (t = reference + margin)."""
        t = real("reference", reference, where="AtMost") + self.margin
        low, high = _interval(low, high, "AtMost")
        if high < t:
            return Verdict.HOLDS
        return Verdict.FAILS if low > t else Verdict.INCONCLUSIVE

    @property
    def text(self) -> str:
        return (
            f"at most, margin {self.margin:g}: holds if ci_high < predicted + {self.margin:g}; fails if "
            f"ci_low > predicted + {self.margin:g}; inconclusive otherwise"
        )


@dataclass(frozen=True)
class AtLeast:
    """One-sided: the measured value exceeds reference + margin."""

    margin: float = 0.0

    def __post_init__(self) -> None:
        _margin(self.margin, "AtLeast")

    def decide(self, reference: float, low: float, high: float) -> Verdict:
        """holds: low > t; fails: high < t; else inconclusive (t = reference + margin)."""
        t = real("reference", reference, where="AtLeast") + self.margin
        low, high = _interval(low, high, "AtLeast")
        if low > t:
            return Verdict.HOLDS
        return Verdict.FAILS if high < t else Verdict.INCONCLUSIVE

    @property
    def text(self) -> str:
        return (
            f"at least, margin {self.margin:g}: holds if ci_low > predicted + {self.margin:g}; fails if "
            f"ci_high < predicted + {self.margin:g}; inconclusive otherwise"
        )


@dataclass(frozen=True)
class Converges:
    """Exact estimates at increasing depths approach a predicted limit within a margin (SCIENCE §4)."""

    margin: float
    relative: bool = False

    def __post_init__(self) -> None:
        _margin(self.margin, "Converges")

    def gaps(self, predicted: float, estimates: Sequence[float]) -> np.ndarray:
        """|e_k - p|, divided by |p| when relative."""
        p = real("predicted", predicted, where="Converges")
        e = np.asarray(finite_array("estimates", estimates, "Converges"), dtype=np.float64).reshape(-1)
        if e.size == 0:
            raise ValueError("Converges: estimates=[]: need at least one estimate")
        if self.relative and p == 0.0:
            raise ValueError("Converges: predicted=0 with a relative margin")
        return np.abs(e - p) / (abs(p) if self.relative else 1.0)

    def decide(self, predicted: float, estimates: Sequence[float], depths: Sequence[float]) -> Verdict:
        """holds: gap_K <= margin; fails: gap_K > margin and gap_K / gap_{K-1} > sqrt(g(l_K) / g(l_{K-1}));
        else inconclusive. ``depths`` label the estimates: increasing, >= 3 (so that ln(l)/l decreases)."""
        gap = self.gaps(predicted, estimates)
        ls = np.asarray(finite_array("depths", depths, "Converges"), dtype=np.float64).reshape(-1)
        if ls.size != gap.size or ls.min() < 3 or np.any(np.diff(ls) <= 0):
            raise ValueError(f"Converges: depths={ls.tolist()}: need one increasing depth >= 3 per estimate")
        if gap[-1] <= self.margin:
            return Verdict.HOLDS
        if gap.size >= 2:
            g = np.log(ls[-2:]) / ls[-2:]
            if gap[-1] > np.sqrt(g[1] / g[0]) * gap[-2]:
                return Verdict.FAILS
        return Verdict.INCONCLUSIVE

    @property
    def text(self) -> str:
        gap = "|estimate / predicted - 1|" if self.relative else "|estimate - predicted|"
        return (
            f"convergence, margin {self.margin:g}{' relative' if self.relative else ''} (exact, no CI): with "
            f"gap = {gap} at the deepest depth l and the next deepest l', holds if gap(l) <= {self.margin:g}; "
            f"fails if gap(l) > {self.margin:g} and gap(l) / gap(l') > sqrt(g(l) / g(l')), g = ln(l)/l (slower "
            "than half the log-rate of an O(ln l / l) error: approaching another value); inconclusive otherwise"
        )
