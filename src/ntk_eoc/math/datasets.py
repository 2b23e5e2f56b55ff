"""Input datasets x in R^{n x m_0}, scaled to ||x_i||^2 = m_0.   [SCIENCE §1]

sphere       n points uniform on the sphere of radius sqrt(m_0)
gaussian     x_i ~ N(0, I_{m_0}); rescaled to the sphere unless ``normalize=False`` (then E||x||^2 = m_0)
digits       scikit-learn's 8x8 digits (m_0 = 64): n images drawn without replacement, centred by
             the mean image of the whole set, then scaled to the sphere
close_pairs  n // 2 pairs (x, x') at angle exactly ``min_angle_deg``, each pair's first point uniform
             on the sphere (plus one uniform point if n is odd); all other pairs are farther apart (centres are
             redrawn until any two are > 3 x the angle apart), so the set's smallest angle is it

Each generator takes a seed and uses its own ``numpy.random.Generator``; the same arguments give the
same array on every machine (float64).

:func:`check_distinct` refuses a dataset the kernel cannot resolve: two points at an angle below
:data:`DISTINCT_MIN_ANGLE_DEG` (duplicates), or, with ``antipodal=True``, two points within that angle
of opposite. The NTK of a bias-free network with an activation of definite parity cannot tell x from
-x: with phi even (the (a,b)-ReLU with a = 0, e.g. abs) K(-x, .) = K(x, .), with phi odd (b = 0, e.g.
identity; tanh, erf) K(-x, .) = -K(x, .) (a_k(-x) = +-a_k(x) and delta_k(-x) = +-delta_k(x) layer by
layer), so K is singular in both cases; relu, leaky_relu and sigmoid have no parity.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..validate import MAX_SEED, InvalidValue, choice, integer, real

__all__ = [
    "DATASETS",
    "DISTINCT_MIN_ANGLE_DEG",
    "DatasetConfig",
    "DatasetName",
    "check_distinct",
    "close_pairs",
    "digits",
    "gaussian",
    "make_dataset",
    "smallest_angle_deg",
    "sphere",
    "to_sphere",
]


class DatasetName(enum.StrEnum):
    """The dataset generators (module doc)."""

    SPHERE = "sphere"
    GAUSSIAN = "gaussian"
    DIGITS = "digits"
    CLOSE_PAIRS = "close_pairs"


DATASETS = tuple(str(d) for d in DatasetName)
DIGITS_DIM = 64  # 8 x 8 pixels
# Dataset seeds seed numpy's default_rng: any non-negative integer works; this bound keeps them 64-bit.
# close_pairs redraws its pair centres until any two are more than 3 x the target angle (+ this margin)
# apart, so by the triangle inequality every cross-pair angle exceeds the target one.
_ANGLE_MARGIN_DEG = 1e-3
_MAX_TRIES = 100
# Points closer than this angle count as one. K(x, x') separates two points only linearly in their angle
# t (the arc-cosine kernel's kink at t = 0), so at t = 1e-3 deg = 1.7e-5 rad two rows of a float32 K
# differ by ~1e-5 relative, ~150 float32 ulps; closer pairs sit at the rounding floor and make
# lambda_min(K) rounding noise. close_pairs datasets (min_angle_deg, default 5 deg) stay far above it.
DISTINCT_MIN_ANGLE_DEG = 1e-3
# Candidate pairs are found from cosines (error ~ m_0 eps), then their angles recomputed from chords.
_COS_SLACK = 1e-9
_ROW_BLOCK = 1024  # rows of the cosine matrix at a time: bounded memory for n in the thousands


def _check_positive(key: str, value: object) -> int:
    return integer(key, value, where="dataset")


def to_sphere(x: np.ndarray) -> np.ndarray:
    """Rows rescaled to ||x_i||^2 = m_0; a zero row raises ValueError."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0.0):
        raise ValueError(f"dataset: row {int(np.argmin(norms))} is zero and cannot be projected to the sphere")
    return x / norms * np.sqrt(x.shape[1])


def sphere(n_points: int, input_dim: int, seed: int) -> np.ndarray:
    """(n, m_0) points uniform on the sphere of radius sqrt(m_0)."""
    n, m0 = _check_positive("n_points", n_points), _check_positive("input_dim", input_dim)
    return to_sphere(np.random.default_rng(seed).standard_normal((n, m0)))


def gaussian(n_points: int, input_dim: int, seed: int, normalize: bool = True) -> np.ndarray:
    """(n, m_0) rows x_i ~ N(0, I); rescaled to ||x_i||^2 = m_0 if ``normalize``."""
    n, m0 = _check_positive("n_points", n_points), _check_positive("input_dim", input_dim)
    x = np.random.default_rng(seed).standard_normal((n, m0))
    return to_sphere(x) if normalize else x


def digits(n_points: int, seed: int, input_dim: int = DIGITS_DIM) -> np.ndarray:
    """(n, 64) scikit-learn digits, centred by the mean image of all 1797, scaled to the sphere."""
    from sklearn.datasets import load_digits

    if input_dim != DIGITS_DIM:
        raise ValueError(f"dataset: digits images have {DIGITS_DIM} pixels, got input_dim={input_dim!r}")
    images = load_digits().data.astype(np.float64)
    n = _check_positive("n_points", n_points)
    if n > images.shape[0]:
        raise ValueError(f"dataset: digits has {images.shape[0]} images, got n_points={n_points!r}")
    rows = np.random.default_rng(seed).choice(images.shape[0], size=n, replace=False)
    return to_sphere(images[rows] - images.mean(axis=0))


def smallest_angle_deg(x: np.ndarray) -> float:
    """Smallest angle (degrees) between two distinct rows of x."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = np.clip(unit @ unit.T, -1.0, 1.0)
    np.fill_diagonal(cos, -1.0)
    return float(np.degrees(np.arccos(cos.max())))


def _close_pairs(unit: np.ndarray, limit_deg: float, sign: float) -> list[tuple[float, int, int]]:
    """(angle in degrees, i, j), i < j, of every pair with angle(u_i, sign u_j) < ``limit_deg``."""
    threshold = np.cos(np.radians(limit_deg)) - _COS_SLACK
    found = []
    for start in range(0, unit.shape[0], _ROW_BLOCK):
        cos = sign * (unit[start : start + _ROW_BLOCK] @ unit.T)
        for i, j in np.argwhere(cos >= threshold):
            i = int(i) + start
            if i < j:
                chord = float(np.linalg.norm(unit[i] - sign * unit[j]))
                angle = float(np.degrees(2.0 * np.arcsin(min(chord / 2.0, 1.0))))
                if angle < limit_deg:
                    found.append((angle, i, int(j)))
    return sorted(found)


def check_distinct(x: np.ndarray, antipodal: bool = False, min_angle_deg: float = DISTINCT_MIN_ANGLE_DEG) -> None:
    """ValueError naming two points of ``x`` that coincide (angle < ``min_angle_deg``) or, with
    ``antipodal``, are opposite to within it (for activations with a parity: module docstring); also
    for a zero row. The closest such pair is named, with the number of pairs.

    Example:
        >>> check_distinct(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))  # passes: no two coincide
        >>> # with antipodal=True: "dataset: points 0 and 2 are antipodal (angle 180 deg, within ...)"
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"dataset: expected an (n, m_0) array, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1)
    if np.any(norms == 0.0):
        raise ValueError(f"dataset: point {int(np.argmin(norms))} is zero: it has no direction")
    unit = x / norms[:, None]
    same = _close_pairs(unit, min_angle_deg, 1.0)
    if same:
        angle, i, j = same[0]
        raise ValueError(
            f"dataset: points {i} and {j} coincide (angle {angle:.3g} deg < {min_angle_deg:g} deg; {len(same)} such "
            "pair(s)): the kernel cannot tell them apart and K is singular; change the dataset's seed or size"
        )
    opposite = _close_pairs(unit, min_angle_deg, -1.0) if antipodal else []
    if opposite:
        angle, i, j = opposite[0]
        raise ValueError(
            f"dataset: points {i} and {j} are antipodal (angle {180.0 - angle:.6g} deg, within {min_angle_deg:g} deg "
            f"of 180; {len(opposite)} such pair(s)): with an even or odd activation (e.g. abs, identity, tanh) "
            "x and -x give the same kernel row up to sign and K is singular; change the dataset or the activation"
        )


def close_pairs(n_points: int, input_dim: int, seed: int, min_angle_deg: float) -> np.ndarray:
    """(n, m_0) points on the sphere whose smallest pairwise angle is ``min_angle_deg`` (degrees)."""
    n, m0 = _check_positive("n_points", n_points), _check_positive("input_dim", input_dim)
    angle = float(min_angle_deg)
    if not 0.0 < angle < 90.0:
        raise ValueError(f"dataset: close_pairs needs 0 < min_angle_deg < 90, got min_angle_deg={min_angle_deg!r}")
    if n < 2 or m0 < 2:
        raise ValueError(
            f"dataset: close_pairs needs n_points >= 2 and input_dim >= 2, got {n_points!r}, {input_dim!r}"
        )
    rng = np.random.default_rng(seed)
    n_pairs, n_free = n // 2, n % 2
    for _ in range(_MAX_TRIES):
        centres = to_sphere(rng.standard_normal((n_pairs + n_free, m0))) / np.sqrt(m0)
        if n_pairs + n_free < 2 or smallest_angle_deg(centres) > 3.0 * angle + _ANGLE_MARGIN_DEG:
            break
    else:
        raise ValueError(
            f"dataset: cannot place {n_pairs} pairs {angle} degrees apart in dimension {m0} "
            f"({_MAX_TRIES} tries); lower min_angle_deg={min_angle_deg!r} or raise input_dim={input_dim!r}"
        )
    u = centres[:n_pairs]
    w = rng.standard_normal((n_pairs, m0))
    w -= np.sum(w * u, axis=1, keepdims=True) * u
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    t = np.radians(angle)
    partner = np.cos(t) * u + np.sin(t) * w
    x = np.empty((n, m0))
    x[0 : 2 * n_pairs : 2], x[1 : 2 * n_pairs : 2] = u, partner
    if n_free:
        x[-1] = centres[-1]
    return x * np.sqrt(m0)


def make_dataset(name: str, **params: object) -> np.ndarray:
    """Dispatch to the generator ``name`` with its keyword parameters."""
    table = {"sphere": sphere, "gaussian": gaussian, "digits": digits, "close_pairs": close_pairs}
    if name not in table:
        raise ValueError(f"dataset: unknown name={name!r}; known: {', '.join(DATASETS)}")
    return table[name](**params)


@dataclass(frozen=True)
class DatasetConfig:
    """A dataset as configured: generator, n, m_0, seed, and ``normalize`` (gaussian) or
    ``min_angle_deg`` (close_pairs). :meth:`make` generates it.

    Example:
        >>> DatasetConfig.from_config({"name": "sphere", "n_points": 4, "input_dim": 3, "seed": 0}).make().shape
        (4, 3)
    """

    name: DatasetName
    n_points: int
    input_dim: int
    seed: int
    normalize: bool | None = None
    min_angle_deg: float | None = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> DatasetConfig:
        """Validate a config section; InvalidValue naming the first bad key (relative to the section)."""
        allowed = ("name", "n_points", "input_dim", "seed", "normalize", "min_angle_deg")
        for key in section:
            if key not in allowed:
                raise InvalidValue(key, section[key], f"unknown key; allowed: {', '.join(allowed)}")
        for key in ("name", "n_points", "input_dim", "seed"):
            if section.get(key) is None:
                raise InvalidValue(key, section.get(key), "is required")
        name = choice("name", section["name"], DatasetName)
        extra = {DatasetName.GAUSSIAN: "normalize", DatasetName.CLOSE_PAIRS: "min_angle_deg"}.get(name)
        for key in ("normalize", "min_angle_deg"):
            if section.get(key) is not None and key != extra:
                raise InvalidValue(key, section[key], f"is not used by dataset {str(name)!r}")
        normalize = angle = None
        if name == DatasetName.GAUSSIAN:
            normalize = section.get("normalize", True)
            if not isinstance(normalize, bool):
                raise InvalidValue("normalize", normalize, "must be true or false")
        if name == DatasetName.CLOSE_PAIRS:
            angle = real("min_angle_deg", section.get("min_angle_deg"), low=0.0, high=60.0)
        out = cls(
            name,
            integer("n_points", section["n_points"], 2),
            integer("input_dim", section["input_dim"]),
            integer("seed", section["seed"], 0, MAX_SEED),  # dataset.seed: the input points
            normalize,
            angle,
        )
        if name == DatasetName.DIGITS and out.input_dim != DIGITS_DIM:
            raise InvalidValue("input_dim", out.input_dim, f"digits images have {DIGITS_DIM} pixels")
        return out

    def config(self) -> dict[str, Any]:
        """The canonical config section (keys that do not apply are left out)."""
        out: dict[str, Any] = {
            "name": str(self.name),
            "n_points": self.n_points,
            "input_dim": self.input_dim,
            "seed": self.seed,
        }
        if self.normalize is not None:
            out["normalize"] = self.normalize
        if self.min_angle_deg is not None:
            out["min_angle_deg"] = self.min_angle_deg
        return out

    def make(self) -> np.ndarray:
        """The (n, m_0) float64 inputs."""
        params = {k: v for k, v in self.config().items() if k != "name"}
        return make_dataset(str(self.name), **params)
