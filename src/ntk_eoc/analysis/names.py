"""Closed sets of names shared by the analysis and its configuration (importable without xarray)."""

from __future__ import annotations

__all__ = [
    "BOUNDS",
    "CLAIM_DEFAULTS",
    "CLAIM_NOTE",
    "DEFAULT_FLUCTUATION_MARGIN",
    "DEFAULT_LIMIT_MIN_DEPTH",
    "DEFAULT_N_BOOT",
    "DEFAULT_QUANTILES",
    "DEVIATION_VARS",
    "NORMS",
    "PNG_DPI",
    "STATISTICS",
]

# Matrix norms of a deviation K(theta) - K_inf: operator (spectral), Frobenius, max entry.
NORMS = ("op", "fro", "max")
# Per-draw deviation variables: <norm>_abs = ||K - K_inf||, <norm>_rel = ||K - K_inf|| / ||K_inf||.
DEVIATION_VARS = tuple(f"{norm}_{kind}" for kind in ("abs", "rel") for norm in NORMS)
# Summary statistics over draws: mean, median, and the 1 - 1/m quantile ("tail").
STATISTICS = ("mean", "median", "tail")
# Point value and confidence bounds of a summary.
BOUNDS = ("value", "ci_low", "ci_high")
# Deciles and quartiles: enough to draw a distribution band without storing every draw.
DEFAULT_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
# 2000 resamples put the Monte-Carlo error of a 95% percentile endpoint well below its sampling error.
DEFAULT_N_BOOT = 2000
# Resolution of PNG figures: sharp on screen and in the HTML report at ~100 KB per figure.
PNG_DPI = 150
# Deep-limit rows use depths from here on: below ~100 layers the O(1/l) terms still hide the ln(l)/l one.
DEFAULT_LIMIT_MIN_DEPTH = 100
# Relative margin of "measured V_diag = product form": the law is first order in 1/m_k, and Monte Carlo
# (SCIENCE §6) puts the measured values within ~3% of it at m_k >= 32; 10% leaves room for O(1/m^2).
DEFAULT_FLUCTUATION_MARGIN = 0.1
# Prefix of a note line of a claims table's Markdown (rows the sweep cannot carry and where they are);
# the run summary prints these lines.
CLAIM_NOTE = "Note: "
# Defaults of the claim settings (config section ``claims``), each with its reason.
CLAIM_DEFAULTS = {
    # O(1/m) finite-width bias: below m ~ 32 the log-log curve of the deviation still bends.
    "m_min": 32,
    # Slope in m: +-0.1 around -1/2 tells m^-1/2 from m^-0.4 or m^-0.6.
    "slope_margin": 0.1,
    # Exponent in depth: SCIENCE §6 predicts ~0.16 (quadratic, l = 2..32) and 0.6-0.8 (constant), so 0.25
    # separates "flat" from "grows".
    "depth_margin": 0.25,
    # Bound exponent in m_l: the measured exponent may exceed the bound's by at most 0.05.
    "bound_margin": 0.05,
    # The bound's depth form on the deep pair (L/2, L): the law's own excess s is <= 0.14 at 16 -> 32 and
    # a hidden ln(l) factor would add about 0.29 (SCIENCE §8.1), so 0.15 tells them apart.
    "bound_depth_margin": 0.15,
    # Deepest depth L of the deep pair (L/2, L) of the depth rows: R(l) saturates by l = 16-32.
    "deep_depth": 32,
    # Deep limits: ln-l coefficients and l x plain inverse-cosine error within 5% of the prediction
    # (they are within 1% at l = 10^4 for relu and abs).
    "limit_margin": 0.05,
    # l x corrected inverse-cosine error <= 0.05, a tenth of the plain form's 1/2 (0.01 at l = 10^4).
    "inv_cos_margin": 0.05,
    "limit_min_depth": DEFAULT_LIMIT_MIN_DEPTH,
    "fluctuation_margin": DEFAULT_FLUCTUATION_MARGIN,
    # Range of beta = sum_k 1/m_k in which the product form is a prediction: 3-9% below the measured V at
    # beta = 0.1-0.25, 15-18% at beta ~ 0.45 (SCIENCE §6).
    "product_beta_max": 0.25,
    # ... and V_dsum (constant widths): 3-7% below the measured V up to beta = 0.48 (SCIENCE §6).
    "dsum_beta_max": 0.5,
    # Largest predicted V_diag a row is posed at: the forms were checked at 4000 draws up to V ~ 1.3; above
    # V ~ 1 the kurtosis of K_ii grows so fast that a few hundred draws underestimate V (256 draws at
    # V ~ 4.5 measured 0.55 of it), SCIENCE §6.
    "fluctuation_v_max": 1.5,
    # The first-order prediction of mean op_rel (SCIENCE §6.1) is posed where beta = sum_k 1/m_k <= 0.01
    # (quadratic widths at m >= 165 for any depth): its second-order error, measured ~0.7-2.3 beta, is <= 3% there.
    "first_order_beta_max": 0.01,
    # ... within 10% of the measured mean: the first-order error (<= 3%) plus the model's Monte Carlo error
    # (<= 1%) leave a band that separates the model from another schedule's (30-60% off).
    "first_order_margin": 0.1,
}
