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
    "MAX_DEPTH",
    "MAX_DRAW_ID",
    "MAX_SEED",
    "ConfigError",
    "Described",
    "InvalidValue",
    "NonFinite",
    "check_finite",
    "choice",
    "finite_array",
    "flag",
    "input_points",
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
# The deepest network a library function builds or a limit it iterates: l = 10^6 layers are ~10^6 n^2
# operations of the limit recursion and lists of 10^6 widths; a larger depth is refused before anything
# is allocated (the config's checks against the memory budget are tighter, pipeline.runs).
MAX_DEPTH = 10**6


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


def flag(key: str, value: object, where: str = "") -> bool:
    """A boolean flag: True/False only (``"yes"``, 1 or None are refused, not read as truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidValue(key, value, "must be True or False", where)
    return bool(value)


def norm_range(dtype: Any) -> tuple[float, float]:
    """[tiny^(1/4), max^(1/4)] of ``dtype``: input norms in this range keep every kernel entry, every
    activation and every Gram product of a network (widths up to ~10^8) a normal number of the working
    precision. float32: [3.3e-10, 4.3e9]; float64: [1.2e-77, 1.2e77]."""
    info = np.finfo(dtype)
    return float(info.tiny) ** 0.25, float(info.max) ** 0.25


class Described(str):
    """A description shown as is in place of a value's repr (an array is described, not printed)."""

    def __repr__(self) -> str:
        return str(self)


def row_norms(x: np.ndarray) -> np.ndarray:
    """||x_i|| of each row without overflow or underflow of the squares (scaled by the row's max |x_ij|)."""
    scale = np.max(np.abs(x), axis=1)
    safe = np.where(scale > 0, scale, 1.0)
    return scale * np.linalg.norm(x / safe[:, None], axis=1)


def input_points(
    name: str, values: Any, where: str, dtype: Any = np.float64, allow_zero_rows: bool = True
) -> np.ndarray:
    """An (n, m_0) matrix of real inputs as float64, refused with one message naming ``name`` when it is
    complex, non-numeric, empty, not 2-d, not finite, or has a row norm outside :func:`norm_range` of the
    working precision ``dtype``.

    The NTK of the (a,b) family is positively homogeneous in each input, K(c x_i, x_j) = c K(x_i, x_j)
    for c > 0 (the activations are 1-homogeneous, their derivatives 0-homogeneous): inputs are not
    rescaled silently, the message says how to rescale them. Zero rows (an exactly zero kernel row) are
    allowed unless ``allow_zero_rows`` is False."""
    array = np.asarray(values)

    def refuse(shown: str, reason: str) -> InvalidValue:
        return InvalidValue(name, Described(shown), reason, where)

    if np.iscomplexobj(array):
        raise refuse(f"<complex array {array.shape}>", "must be real; the kernel of complex inputs is not defined here")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise refuse(f"<{array.dtype} array>", "must be a real numeric array")
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise refuse(f"<array of shape {array.shape}>", "must have shape (n, m_0) with n, m_0 >= 1")
    array = array.astype(np.float64)
    _raise_if_bad(name, array, (), where)
    norms = row_norms(array)
    zero = np.flatnonzero(norms == 0.0)
    if zero.size and not allow_zero_rows:
        raise refuse(
            f"<zero input(s) at row(s) {zero[:10].tolist()}>",
            "the EOC kernel of a bias-free network is 0 there and its correlation undefined",
        )
    low, high = norm_range(dtype)
    outside = np.flatnonzero((norms != 0.0) & ((norms < low) | (norms > high)))
    if outside.size:
        i = int(outside[0])
        raise InvalidValue(
            f"||{name}[{i}]||", float(f"{norms[i]:.3g}"),
            f"{outside.size} row norm(s) outside [{low:.2g}, {high:.2g}], the range where {np.dtype(dtype).name} "
            "kernels neither underflow nor overflow; the kernel is homogeneous, K(c x_i, c x_j) = c^2 K(x_i, x_j) "
            "for c > 0: rescale the inputs and the kernel", where,
        )  # fmt: skip
    return array


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
