"""Claim rows of the deep limit ([TGS25-Spec]) from the asymptotic forms of SCIENCE §4.

The spectrum dataset (:func:`~.spectrum.limit_spectrum`, optionally concatenated over ``activation``) is
exact: rows have no CI and use the :class:`~.verdicts.Converges` rule on estimates at the deepest
depths (>= ``min_depth``). Each SCIENCE §4 form l (q - q_inf) = c ln l + const + o(1) is tested through
its ln-l coefficient, estimated between successive depths l' < l as

    c_hat(l) = [l (q(l) - q_inf) - l' (q(l') - q_inf)] / (ln l - ln l'),

which tends to c with error O(ln l / l): the constant (kappa, D) cancels, so the estimate is sharp at
reachable depths (within 1% at l = 10^4), and a wrong coefficient keeps the estimate off by a fixed
amount at every depth, so the row fails. Rows per activation (margins relative to the prediction unless
stated):

- l (Theta_l/l - 1/4) - (3/8) ln l converges: c_hat of mean off-diagonal Theta_l/l -> 3/8;
- lambda_min n/l = 3/4 - (3/8) ln(l)/l + O(1/l): c_hat -> -3/8;
- lambda_max n/l = (n+3)/4 + (3/8)(n-1) ln(l)/l + O(1/l): c_hat -> (3/8)(n-1);
- l (cond - 1 - n/3)/ln l -> 2n/3: c_hat of cond -> 2n/3 (the ratio itself converges like D/ln l,
  30% off at l = 10^4 for ReLU, so the coefficient is read from differences instead);
- plain inverse-cosine form C (1 - rho_l)^-1/2: l x median relative error -> 1/2 (it overestimates by 1/8);
- corrected form C (1 - rho_l)^-1/2 - 1/8: l x max relative error -> 0 (o(1/l)), absolute margin.

The spectrum paper's own claim (SCIENCE §8.6), for each pair of activations adjacent in Delta (abs and relu
in the demo, five leaky ReLUs in `spectrum`): Delta sets the rate at which cond(K_inf) converges, the larger
Delta faster. With gap(l) = cond(K_inf) - (1 + n/3), exact, at the depths >= ``min_depth`` (an asymptotic
statement; at l = 2 the gaps can be in the other order):

- gap_big(l) < gap_small(l) at every such depth; the same rule with the activations swapped is the row's
  negative control (role ``control``, expected to fail);
- gap_big / gap_small rises towards 1 (the ln(l)/l term does not depend on Delta) over the deeper half of
  the depths: holds if the ratio increases at every step and stays below 1, fails if it falls at a step or
  reaches 1; its control is the swapped ratio, which falls towards 1 from above. Nearer l_min the ratio need
  not rise: for Delta = 0.1 and 0.02 it falls until l ~ 10^3, for abs/relu until l ~ 100 (SCIENCE §8.6).
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import xarray as xr

from ...validate import check_finite
from ..names import DEFAULT_LIMIT_MIN_DEPTH
from ..spectrum import INV_COS_PLAIN_SCALED_ERROR
from .verdicts import Converges, Kind, Role, Verdict, claim_row

__all__ = ["DEFAULT_LIMIT_MIN_DEPTH", "delta_rows", "limit_rows", "log_coefficients"]

# The exact rules of the spectrum paper's claim (module doc): no CI, no margin.
BELOW_RULE = (
    "exact, every depth >= the minimum: holds if the first gap is below the second at every depth; fails otherwise"
)
RISES_RULE = (
    "exact, the deeper half of the depths (l >= sqrt(l_min l_max), where the ln(l)/l term leads for every "
    "Delta measured): holds if the ratio increases at every step and stays below 1; fails if it falls at a "
    "step or reaches 1"
)

log = logging.getLogger(__name__)


# (claim, variable q, q_inf in PredictedLimits, ln-l coefficient in PredictedLimits)
_COEFFICIENT_ROWS = (
    ("l (Theta_l/l - 1/4) - (3/8) ln l converges: ln-l coefficient of l (Theta_l/l - 1/4) -> 3/8",
     "theta_offdiag_scaled_mean", "pred_theta_offdiag_scaled", "pred_theta_offdiag_log_coef"),
    ("lambda_min n/l = 3/4 - (3/8) ln(l)/l + O(1/l): ln-l coefficient of l (lambda_min n/l - 3/4) -> -3/8",
     "lambda_min_scaled", "pred_lambda_min_scaled", "pred_lambda_min_log_coef"),
    ("lambda_max n/l = (n+3)/4 + (3/8)(n-1) ln(l)/l + O(1/l): ln-l coefficient -> (3/8)(n-1)",
     "lambda_max_scaled", "pred_lambda_max_scaled", "pred_lambda_max_log_coef"),
    ("l (cond - 1 - n/3)/ln l -> 2n/3: ln-l coefficient of l (cond - 1 - n/3) -> 2n/3",
     "cond", "pred_cond", "pred_cond_log_coef"),
)  # fmt: skip


def log_coefficients(values: xr.DataArray, limit: float) -> xr.DataArray:
    """c_hat between successive depths: diff of l (q - limit) over diff of ln l, labelled by the deeper l."""
    ls = values.depth.values.astype(np.float64)
    scaled = ls * (values.values - limit)
    coef = np.diff(scaled) / np.diff(np.log(ls))
    return xr.DataArray(coef, dims="depth", coords={"depth": values.depth.values[1:]})


def _where(one: xr.Dataset, depths: np.ndarray) -> str:
    n = one.attrs.get("n_points", "?")
    span = f"l={int(depths[0])}..{int(depths[-1])}" if depths.size > 1 else f"l={int(depths[0])}"
    return f"activation={one.activation.item()}, Delta={float(one.delta):g}, n={n}, {span}"


def _one_activation(one: xr.Dataset, min_depth: int, rel: Converges, corrected: Converges) -> list[dict]:
    deep = one.sortby("depth")
    deep = deep.sel(depth=deep.depth[deep.depth >= min_depth])
    depths = deep.depth.values
    if depths.size < 2:
        log.warning(
            "claims: fewer than 2 spectrum depths >= %d (%s): no deep-limit rows", min_depth, _where(one, depths)
        )
        return []
    used = [v for _, *names in _COEFFICIENT_ROWS for v in names]
    check_finite(deep[[*used, "inv_cos_relerr_plain_median", "inv_cos_relerr_corrected_max"]], "limit claims")
    rows = []
    for text, var, limit, coef in _COEFFICIENT_ROWS:
        estimates = log_coefficients(deep[var], float(deep[limit]))
        predicted = float(deep[coef])
        claim = f"{text} ({_where(one, depths[-2:])})"
        verdict = rel.decide(predicted, estimates.values, estimates.depth.values)
        rows.append(claim_row(claim, Kind.MEASURED, predicted, estimates[-1], (np.nan, np.nan), rel, verdict))
    ls = depths.astype(np.float64)
    plain = ls * deep.inv_cos_relerr_plain_median.values
    claim = f"plain inverse-cosine form overestimates by 1/8: l x median relative error -> 1/2 ({_where(one, depths)})"
    verdict = rel.decide(INV_COS_PLAIN_SCALED_ERROR, plain, ls)
    rows.append(claim_row(claim, Kind.MEASURED, INV_COS_PLAIN_SCALED_ERROR, plain[-1], (np.nan, np.nan), rel, verdict))
    fixed = ls * deep.inv_cos_relerr_corrected_max.values
    claim = f"corrected inverse-cosine form (- 1/8): l x max relative error -> 0, o(1/l) ({_where(one, depths)})"
    rows.append(
        claim_row(claim, Kind.MEASURED, 0.0, fixed[-1], (np.nan, np.nan), corrected, corrected.decide(0.0, fixed, ls))
    )
    return rows


def limit_rows(
    spectrum: xr.Dataset, *, margin: float, inv_cos_margin: float, min_depth: int = DEFAULT_LIMIT_MIN_DEPTH
) -> list[dict]:
    """Deep-limit rows per activation (see module docstring); Delta = 0 has no deep limit and is skipped.

    Args:
        spectrum: :func:`~.spectrum.limit_spectrum` output, optionally over ``activation``.
        margin: relative margin of the ln-l coefficients and of l x the plain inverse-cosine error.
        inv_cos_margin: absolute margin of l x the corrected inverse-cosine error.
        min_depth: only depths >= this enter the estimates.
    """
    spectrum = spectrum if "activation" in spectrum.dims else spectrum.expand_dims("activation")
    rel, corrected = Converges(margin, relative=True), Converges(inv_cos_margin)
    rows = []
    for k in range(spectrum.sizes["activation"]):
        one = spectrum.isel(activation=k)
        if float(one.delta) == 0.0:
            log.warning("claims: activation %s has Delta = 0 (linear): no deep-limit rows", one.activation.item())
            continue
        rows += _one_activation(one, min_depth, rel, corrected)
    return rows


def delta_rows(spectrum: xr.Dataset, *, min_depth: int = DEFAULT_LIMIT_MIN_DEPTH) -> list[dict]:
    """The spectrum paper's claim (module doc) for each pair of activations adjacent in Delta (Delta > 0):
    the larger Delta's cond gap below the smaller's at every depth >= ``min_depth`` (with its swapped
    control), and their ratio rising towards 1 over the deeper half of those depths (l >= sqrt(l_min
    l_max)). Needs two activations with Delta > 0 over ``activation`` (relu and abs in the demo)."""
    if "activation" not in spectrum.dims or "delta" not in spectrum or spectrum.sizes["activation"] < 2:
        return []
    deep = spectrum.sortby("depth")
    deep = deep.sel(depth=deep.depth[deep.depth >= min_depth])
    if deep.sizes["depth"] < 2:
        log.warning("claims: fewer than 2 spectrum depths >= %d: no Delta-rate spectrum rows", min_depth)
        return []
    gap = deep["cond"] - deep["pred_cond"]
    check_finite(gap.to_dataset(name="cond gap"), "limit claims")
    ls = deep.depth.values
    span = f"n={deep.attrs.get('n_points', '?')}, l={int(ls[0])}..{int(ls[-1])}"
    delta = {str(a): float(deep.delta.sel(activation=a)) for a in deep.activation.values}
    order = sorted((a for a in delta if delta[a] > 0), key=lambda a: -delta[a])
    tail = ls >= np.sqrt(float(ls[0]) * float(ls[-1]))
    rows = []
    for big, small in itertools.pairwise(order):
        names = f"{big} (Delta={delta[big]:g}), {small} (Delta={delta[small]:g})"
        for first, second, role in ((big, small, Role.CLAIM), (small, big, Role.CONTROL)):
            ratio = (gap.sel(activation=first) / gap.sel(activation=second)).values
            verdict = Verdict.HOLDS if np.all(ratio < 1.0) else Verdict.FAILS
            claim = (
                f"cond(K_inf) - (1 + n/3) smaller for {first} than for {second} at every depth: max ratio "
                f"{first}/{second} over the depths ({names}; {span})"
            )
            nan2 = (np.nan, np.nan)
            rows.append(claim_row(claim, Kind.MEASURED, 1.0, float(ratio.max()), nan2, BELOW_RULE, verdict, role=role))
        deep_ls = ls[tail]
        for first, second, role in ((big, small, Role.CLAIM), (small, big, Role.CONTROL)):
            ratio = (gap.sel(activation=first) / gap.sel(activation=second)).values[tail]
            rises = bool(np.all(np.diff(ratio) > 0) and np.all(ratio < 1.0))
            claim = (
                f"gap ratio {first}/{second} of cond(K_inf) - (1 + n/3) rises towards 1: {ratio[0]:.3f} at "
                f"l={int(deep_ls[0])} to {ratio[-1]:.3f} at l={int(deep_ls[-1])} ({names}; {span})"
            )
            verdict = Verdict.HOLDS if rises else Verdict.FAILS
            nan2 = (np.nan, np.nan)
            rows.append(claim_row(claim, Kind.MEASURED, 1.0, float(ratio[-1]), nan2, RISES_RULE, verdict, role=role))
    return rows
