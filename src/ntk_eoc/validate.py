"""Checks of user-given values, shared by the library and the config: one home for every validator.

Each check returns the value in its canonical type or raises :class:`InvalidValue`, a ``ValueError``
that names the key and the value: ``depth=0: must be an integer >= 1``. Library functions prefix the
message with their own name (``widths: depth=0: ...``); the config layer turns it into a
:class:`ConfigError` (defined here, a leaf module, and re-exported by :mod:`ntk_eoc.pipeline.runs`) with the
key path of the config (``invalid config: ...``).
"""

from __future__ import annotations

import enum
import math
import numbers
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "MAX_DRAW_ID",
    "MAX_SEED",
    "ConfigError",
    "InvalidValue",
    "NonFinite",
    "check_finite",
    "choice",
    "finite_array",
    "integer",
    "integer_list",
    "real",
]

E = TypeVar("E", bound=enum.Enum)

# Every seed and every draw id is an integer in [0, 2^32). The three seeds, each checked where its section
# is validated: sampler.seed, of the weights (:func:`ntk_eoc.math.samplers.sample_kernels`, the run's
# sampler section), dataset.seed, of the input points (math.datasets), and concentration.seed, of the
# bootstrap (pipeline.settings). Draw s of a configuration is the network of JAX key fold_in(key(seed), s);
# jax.random.key keeps 32 bits of a seed when 64-bit mode is off and fold_in takes a 32-bit id, so a
# larger value would silently repeat the draws of a smaller one [SCIENCE §5]. The dataset and bootstrap
# seeds (numpy generators) could take 63 bits but share the range so that a seed means one thing.
MAX_SEED = 2**32 - 1
MAX_DRAW_ID = 2**32 - 1


class ConfigError(ValueError):
    """An invalid config value; the message names the key and the value."""

    def __init__(self, key: str, value: object, reason: str) -> None:
        super().__init__(f"invalid config: {key}={value!r}: {reason}")
        self.key, self.value, self.reason = key, value, reason


class NonFinite(ValueError):
    """NaN or inf where finite values are required; the message names the array and the first bad index."""


class InvalidValue(ValueError):
    """A bad value: ``<where>: <key>=<value>: <reason>``; attributes ``key``, ``value``, ``reason``."""

    def __init__(self, key: str, value: object, reason: str, where: str = "") -> None:
        self.key, self.value, self.reason, self.where = key, value, reason, where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{key}={value!r}: {reason}")


def integer(key: str, value: object, minimum: int | None = 1, maximum: int | None = None, where: str = "") -> int:
    """An integer (not bool) in [minimum, maximum] (None: unbounded)."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Integral)
    if ok and minimum is not None and int(value) < minimum:
        ok = False
    if ok and maximum is not None and int(value) > maximum:
        ok = False
    if not ok:
        if maximum is None:
            bound = f">= {minimum}" if minimum is not None else ""
            raise InvalidValue(key, value, f"must be an integer {bound}".rstrip(), where)
        low = "" if minimum is None else f"{minimum} <= "
        raise InvalidValue(key, value, f"must be an integer with {low}value <= {maximum}", where)
    return int(value)


def integer_list(key: str, value: object, minimum: int = 1, where: str = "") -> tuple[int, ...]:
    """A non-empty list of integers >= minimum."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) == 0:
        raise InvalidValue(key, value, f"must be a non-empty list of integers >= {minimum}", where)
    return tuple(integer(f"{key}[{k}]", v, minimum, where=where) for k, v in enumerate(value))


def real(
    key: str,
    value: object,
    *,
    positive: bool = False,
    low: float | None = None,
    high: float | None = None,
    max_abs: float | None = None,
    where: str = "",
) -> float:
    """A finite real number (not bool); optionally > 0, in (low, high) (open), or |value| <= max_abs."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValue(key, value, "must be a number", where)
    out = float(value)
    if not math.isfinite(out):
        raise InvalidValue(key, value, "must be finite", where)
    if positive and not out > 0.0:
        raise InvalidValue(key, value, "must be > 0", where)
    if (low is not None and not out > low) or (high is not None and not out < high):
        raise InvalidValue(key, value, f"must lie in ({low:g}, {high:g})", where)
    if max_abs is not None and abs(out) > max_abs:
        raise InvalidValue(key, value, f"must satisfy |value| <= {max_abs:g}", where)
    return out


def choice(key: str, value: object, options: type[E], where: str = "") -> E:
    """A member of the enum ``options``, given as the member or its value."""
    try:
        return options(value)
    except ValueError:
        allowed = ", ".join(str(o.value) for o in options)
        raise InvalidValue(key, value, f"must be one of {allowed}", where) from None


def finite_array(name: str, values: Any, where: str = "") -> np.ndarray:
    """``values`` as an array; :class:`NonFinite` naming the count and the first index of NaN or inf."""
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.number):
        _raise_if_bad(name, array, (), where)
    return array


def check_finite(obj: Any, where: str) -> None:
    """:class:`NonFinite` if a floating variable of an xarray Dataset (or a DataArray) holds NaN or inf,
    naming the variable, the count and the labelled index of the first bad value: no NaN reaches a
    statistic silently."""
    variables = obj.data_vars.items() if hasattr(obj, "data_vars") else [(obj.name, obj)]
    for name, var in variables:
        if np.issubdtype(var.dtype, np.floating):
            label = "values" if name is None else f"variable {name!r}"
            _raise_if_bad(label, np.asarray(var.values), var.dims, where)


def _raise_if_bad(name: str, values: np.ndarray, dims: Sequence[str], where: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        first = tuple(int(k) for k in np.argwhere(bad)[0])
        index = dict(zip(dims, first, strict=True)) if dims else first
        prefix = f"{where}: " if where else ""
        raise NonFinite(f"{prefix}{name} has {int(bad.sum())} non-finite value(s) (first at {index}: {values[first]})")
