"""Paired-bootstrap intervals cover planted truths on correlated data; independent resampling does not.

SCIENCE §7: configurations that share draw ids (common random numbers) give correlated statistics, and
only resampling the draw ids jointly gives intervals of the right width. Data are planted with
correlation RHO = 0.5 between paired configurations, as in the pipeline (measured 0.37-0.49):

- ratio and difference: x_s = MU_X (1 + CV z_s), y_s = MU_Y (1 + CV z'_s), corr(z_s, z'_s) = RHO, so the
  ratio of means is MU_X / MU_Y and their difference MU_X - MU_Y exactly;
- slope: y_{m,s} = A m^SLOPE (1 + CV z_{m,s}) with corr(z_{m,s}, z_{m',s}) = RHO for m != m', so
  log E[y_m] = log A + SLOPE log m exactly.

Each of R = REPS replicates draws fresh data (N_DRAWS draws) and B = N_BOOT resamples. The number of
replicates whose 95% interval covers the truth is Binomial(R, p), sd sqrt(0.95 * 0.05 / R) = 0.0049 near
p = 0.95. Percentile intervals undercover slightly at finite N and B: measured with R = 16000 at these
N and B, p = 0.942 (ratio), 0.943 (difference), 0.944 (slope), each +-0.002. The checks: three paired
coverages within z sd + BOOTSTRAP_BIAS of 0.95 (BOOTSTRAP_BIAS = 0.01 covers the measured
undercoverage), two independent-resampling coverages above 0.95 + z sd; z is the two-sided Bonferroni
threshold over the five at total false-failure rate FALSE_FAILURE_RATE = 1e-5 (z = 4.75, z sd = 0.023).
Independent resampling ignores the positive covariance, so its intervals are too wide by the
delta-method factor sqrt(var_independent / var_paired): sqrt(1 / (1 - RHO)) = 1.414 for the ratio (equal
CVs) and for the slope (equicorrelated widths), sqrt(0.3125 / 0.1875) = 1.291 for the difference
(measured with R = 16000: 1.420, 1.296, 1.421, replicate sd 0.12, 0.10, 0.12; independent coverages
0.992, 0.985, 0.991). The mean width ratio over R replicates (standard error 0.003) must lie within
WIDTH_RTOL = 3% of the delta-method factor, which leaves room for its O(1/N) error.
Runtime: ~25 s on one core.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from ntk_eoc.analysis.bootstrap import (
    paired_difference,
    paired_loglog_slope,
    paired_ratio,
    percentile_ci,
    resample_counts,
    resampled_statistic,
)

pytestmark = pytest.mark.slow

REPS, N_DRAWS, N_BOOT = 2000, 200, 400
NOMINAL, RHO, CV = 0.95, 0.5, 0.25
MU_X, MU_Y = 1.0, 2.0
A, SLOPE, WIDTHS = 3.0, -0.5, (16, 32, 64, 128)
N_CHECKS = 5
BOOTSTRAP_BIAS = 0.01
WIDTH_RTOL = 0.03
EXPECTED_WIDTH_RATIO = {
    "ratio": math.sqrt(1.0 / (1.0 - RHO)),
    "difference": math.sqrt((CV**2 * (MU_X**2 + MU_Y**2)) / (CV**2 * (MU_X**2 + MU_Y**2 - 2 * RHO * MU_X * MU_Y))),
    "slope": math.sqrt(1.0 / (1.0 - RHO)),
}


def _equicorrelated(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """(k, n) standard normals with corr RHO between rows, independent across columns (draws)."""
    common = rng.standard_normal(n)
    return math.sqrt(RHO) * common + math.sqrt(1.0 - RHO) * rng.standard_normal((k, n))


def _draws(values: np.ndarray, **coords) -> xr.DataArray:
    dims = (*coords, "draw")
    return xr.DataArray(values, dims=dims, coords={**coords, "draw": np.arange(values.shape[-1])})


def _independent_ci(values: np.ndarray, combine, seed: np.random.SeedSequence) -> tuple[float, float]:
    """The pre-SCIENCE-§7 interval: every configuration (row) resampled with its own draw ids."""
    rows = [
        resampled_statistic(row, resample_counts(row.size, N_BOOT, s))
        for row, s in zip(values, seed.spawn(len(values)), strict=True)
    ]
    return percentile_ci(combine(np.stack(rows, axis=-1)), NOMINAL)


def _log_slope(boot_means: np.ndarray) -> np.ndarray:
    x = np.log(np.asarray(WIDTHS, dtype=float))
    xc = x - x.mean()
    return (np.log(boot_means) * xc).sum(axis=-1) / (xc * xc).sum()


def _replicate(rng: np.random.Generator, seed: np.random.SeedSequence) -> dict[str, tuple[float, float, float, float]]:
    """(paired low, high, independent low, high) of each statistic on one planted sample."""
    seeds = seed.spawn(6)
    z = _equicorrelated(rng, 2, N_DRAWS)
    x, y = _draws(MU_X * (1 + CV * z[0])), _draws(MU_Y * (1 + CV * z[1]))
    pair = np.stack([x.values, y.values])
    ratio = paired_ratio(x, y, n_boot=N_BOOT, seed=seeds[0], confidence=NOMINAL)
    diff = paired_difference(x, y, n_boot=N_BOOT, seed=seeds[1], confidence=NOMINAL)
    m = np.asarray(WIDTHS, dtype=float)[:, None]
    ys = A * m**SLOPE * (1 + CV * _equicorrelated(rng, len(WIDTHS), N_DRAWS))
    fit = paired_loglog_slope(_draws(ys, base_width=list(WIDTHS)), "base_width", n_boot=N_BOOT, seed=seeds[2])
    return {
        "ratio": (ratio.ci_low, ratio.ci_high, *_independent_ci(pair, lambda b: b[:, 0] / b[:, 1], seeds[3])),
        "difference": (diff.ci_low, diff.ci_high, *_independent_ci(pair, lambda b: b[:, 0] - b[:, 1], seeds[4])),
        "slope": (fit.ci_low, fit.ci_high, *_independent_ci(ys, _log_slope, seeds[5])),
    }


@pytest.fixture(scope="module")
def intervals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240611)
    seeds = np.random.SeedSequence(31).spawn(REPS)
    reps = [_replicate(rng, s) for s in seeds]
    return {k: np.array([r[k] for r in reps]) for k in EXPECTED_WIDTH_RATIO}  # (REPS, 4) each


TRUTH = {"ratio": MU_X / MU_Y, "difference": MU_X - MU_Y, "slope": SLOPE}


def _band(bonferroni, false_failure_rate) -> float:
    return bonferroni(N_CHECKS, false_failure_rate) * math.sqrt(NOMINAL * (1 - NOMINAL) / REPS)


@pytest.mark.parametrize("statistic", list(TRUTH))
def test_paired_intervals_have_nominal_coverage(intervals, statistic, bonferroni, false_failure_rate):
    ci = intervals[statistic]
    coverage = np.mean((ci[:, 0] <= TRUTH[statistic]) & (TRUTH[statistic] <= ci[:, 1]))
    allowed = _band(bonferroni, false_failure_rate) + BOOTSTRAP_BIAS
    assert abs(coverage - NOMINAL) <= allowed, f"{statistic}: coverage {coverage:.4f}"


@pytest.mark.parametrize("statistic", ["ratio", "slope"])
def test_independent_resampling_overcovers_on_paired_data(intervals, statistic, bonferroni, false_failure_rate):
    ci = intervals[statistic]
    coverage = np.mean((ci[:, 2] <= TRUTH[statistic]) & (TRUTH[statistic] <= ci[:, 3]))
    # delta method: the independent interval is sqrt 2 too wide, so it covers P(|Z| < 1.96 sqrt 2) = 0.994
    assert coverage > NOMINAL + _band(bonferroni, false_failure_rate), f"{statistic}: coverage {coverage:.4f}"


@pytest.mark.parametrize("statistic", list(TRUTH))
def test_independent_intervals_are_too_wide_by_the_delta_method_factor(intervals, statistic):
    ci = intervals[statistic]
    ratio = np.mean((ci[:, 3] - ci[:, 2]) / (ci[:, 1] - ci[:, 0]))
    assert ratio == pytest.approx(EXPECTED_WIDTH_RATIO[statistic], rel=WIDTH_RTOL)
