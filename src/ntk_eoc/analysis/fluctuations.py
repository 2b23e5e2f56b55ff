"""Finite-width fluctuations of K(theta) measured from draws, beside the product-form law.   [SCIENCE §6]

Per configuration cell (any dims besides ``draw``, ``i``, ``j``: base_width, activation, schedule, depth),
from N draws K_s = K(theta_s) with draw ids as the ``draw`` coordinate:

    V_diag = (1/D) sum_e Var_s(K_ee) / E_s[K_ee]^2                      (D diagonal entries e)
    V_off  = (1/P) sum_{(e,f)} Var_s(K_ef) / (E_s[K_ee] E_s[K_ff])     (P pairs of distinct points)

with unbiased variances (ddof = 1) and sample means over draws. Pooling: the (a,b)-ReLU is positively
homogeneous, so K(c x, c x) = c^2 K(x, x) draw by draw and the per-entry ratio Var/E^2 is the same
number for every input whatever its norm; averaging the per-entry ratios is therefore an average of
estimates of one V_diag (a pooled variance over a pooled squared mean would weight entries by their
norms and only agree on the sphere). Off the diagonal E[K_ef] can be near 0 (near-orthogonal or, for
abs, antipodal inputs), so Var(K_ef) is normalized by E[K_ee] E[K_ff] instead of E[K_ef]^2: V_off is then
a fluctuation relative to the diagonal scale, dataset-dependent through the input angles (multiply by
E[K_ee] E[K_ff] / E[K_ef]^2 for the other convention). With m_l > 1 outputs, entry (i, o) sits at index
i m_l + o (:mod:`ntk_eoc.math.layout`): the diagonal uses all n m_l diagonal entries (each output's
diagonal has the law of a single-output network), the off-diagonal pairs are (i, o), (j, o) with i != j
and the same output o (entries between different outputs have mean 0 and are left out).

Intervals: BCa bootstrap intervals over draw ids (B resamples; :func:`~.bootstrap.bca_ci`), because the
percentile interval of a variance ratio covers only 88-89% at 128 draws (SCIENCE §8.8). The resamples
depend only on (n_boot, seed, the sorted draw ids), and every cell of a call uses the same ones, so cells,
and separate calls with the same settings, are resampled jointly (common random numbers, SCIENCE §7);
``*_se`` is the bootstrap standard deviation; ``v_diag_boot`` keeps the B resampled V_diag values (dim
``resample``) and ``v_diag_jack`` the N leave-one-draw-out values (dim ``draw``), so that statistics pooled
over cells (:func:`pooled_ratio`) are resampled and jackknifed jointly too.

Claim rows pool base widths: per configuration (every dim but base_width), the geometric mean over
m >= m_min of measured / predicted, R = exp(mean_m log(V_diag(m) / V_pred(m))), whose interval comes from
the same resamples at every width (paired). The law holds when R's interval lies inside 1 +- margin. Each
form of the law (:data:`FORMS`) is tested only where it is a prediction at these sizes: the product form
up to beta = ``product_beta_max``, V_dsum (constant widths, where the two differ; for quadratic widths
they agree within 1%) up to ``dsum_beta_max``, and either only where the predicted V_diag is at most
``v_max`` (above V ~ 1 the kurtosis of K_ii grows so fast that a few hundred draws underestimate V).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from ..math.activations import Activation
from ..math.fluctuations import beta, hanin_nica, v_diag, v_diag_quadratic_limit, v_dsum
from ..math.schedules import SCHEDULES, widths
from ..validate import InvalidValue, check_finite, integer
from .bootstrap import (
    BCA_METHOD,
    DRAW_DIM,
    RANDOM_NUMBERS,
    aligned_draws,
    bca_ci,
    check_bootstrap_args,
    resample_counts,
)
from .claims.verdicts import Equivalence, Kind, Role, claim_row
from .grid import one_per_network
from .names import CLAIM_DEFAULTS, DEFAULT_FLUCTUATION_MARGIN

__all__ = [
    "DEFAULT_FLUCTUATION_MARGIN",
    "FORMS",
    "fluctuation_note",
    "fluctuation_rows",
    "fluctuation_summary",
    "measurable",
    "measure_fluctuations",
    "pooled_forms",
    "pooled_ratio",
    "predicted_curves",
    "predicted_fluctuations",
]

MATRIX_DIMS = ("i", "j")
RESAMPLE_DIM = "resample"
# Positive draws every diagonal entry needs for V_diag to be measured (see measurable()).
MIN_POSITIVE_DRAWS = 16
_SETTINGS = ("activation", "schedule", "depth", "base_width")
# Per-draw and per-resample variables of a cell, kept apart from the cell statistics.
_PER_DRAW = ("v_diag_boot", "v_diag_jack")
# The two forms of the law a row can test (SCIENCE §6): variable of the prediction, and its text.
FORMS = {
    "product": ("v_diag_pred", "prod_k (1 + w(k/l)/m_k) - 1 (product form, first order)"),
    "dsum": ("v_dsum_pred", "V_dsum (independent-layer sum)"),
}


def _entries(size: int, output_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Diagonal indices, and the (e, f) index pairs of distinct points in the same output block."""
    if size % output_dim:
        raise InvalidValue("output_dim", output_dim, f"must divide the matrix size {size}", "measure_fluctuations")
    if size // output_dim < 2:
        raise ValueError(f"measure_fluctuations: need >= 2 points for V_off, got {size // output_dim}")
    e, f = np.triu_indices(size, k=1)
    same = (e % output_dim == f % output_dim) & (e // output_dim != f // output_dim)
    return np.arange(size), e[same], f[same]


def _ratios(mean: np.ndarray, var: np.ndarray, d: int, pairs) -> tuple[np.ndarray, np.ndarray]:
    """(V_diag, V_off) from means and unbiased variances over draws, (..., entries) in the order diag, off."""
    mean_diag = mean[..., :d]
    v_d = np.mean(var[..., :d] / mean_diag**2, axis=-1)
    v_o = np.mean(var[..., d:] / (mean_diag[..., pairs[0]] * mean_diag[..., pairs[1]]), axis=-1)
    return v_d, v_o


def _jackknife(centred: np.ndarray, shift: np.ndarray, d: int, pairs) -> tuple[np.ndarray, np.ndarray]:
    """(V_diag, V_off) with each draw s left out in turn, (N,) each: the leave-one-out mean is
    (S1 - c_s)/(N-1) and the unbiased variance ((S2 - c_s^2) - (N-1) mean^2)/(N-2), c the centred values."""
    n = centred.shape[0]
    if n < 3:
        return np.zeros(n), np.zeros(n)  # no leave-one-out variance: zero acceleration
    s1, s2 = centred.sum(axis=0), (centred**2).sum(axis=0)
    loo_mean = (s1 - centred) / (n - 1)
    loo_var = ((s2 - centred**2) - (n - 1) * loo_mean**2) / (n - 2)
    return _ratios(shift + loo_mean, loo_var, d, pairs)


def _cell_statistics(k: np.ndarray, counts: np.ndarray, output_dim: int, confidence: float) -> dict[str, object]:
    """V_diag, V_off of one cell, k: (N, size, size), with BCa CIs and SEs from the resample counts (B, N),
    and the B resampled and N leave-one-out V_diag values."""
    diag, e, f = _entries(k.shape[-1], output_dim)
    values = np.concatenate([k[:, diag, diag], k[:, e, f]], axis=1)  # (N, D + P)
    n, d = values.shape[0], diag.size
    if np.any(values[:, :d] < 0) or not np.all(values[:, :d].mean(axis=0) > 0):
        raise ValueError(
            "measure_fluctuations: a diagonal entry of K(theta) is negative, or 0 in every draw (a network dead "
            "at that input in all draws: narrow ReLU networks): V_diag is undefined there; see measurable()"
        )
    shift = values.mean(axis=0)
    centred = values - shift  # variances are shift-invariant; centring avoids cancellation
    w = counts.astype(np.float64) / n
    first = w @ centred
    pairs = (e, f)  # diagonal entry e sits at column e of ``values``
    unbiased = n / (n - 1)
    boot = _ratios(first + shift, (w @ centred**2 - first**2) * unbiased, d, pairs)
    point = _ratios(shift, np.mean(centred**2, axis=0) * unbiased, d, pairs)
    jack = _jackknife(centred, shift, d, pairs)
    out: dict[str, object] = {"mean_diag": float(shift[:d].mean()), "v_diag_boot": boot[0], "v_diag_jack": jack[0]}
    for name, p, b, j in zip(("v_diag", "v_off"), point, boot, jack, strict=True):
        low, high = bca_ci(b, p, j, confidence)
        out.update({name: float(p), f"{name}_ci_low": float(low), f"{name}_ci_high": float(high)})
        out[f"{name}_se"] = float(np.std(b, ddof=1))
    return out


def measurable(kernels: xr.DataArray, min_positive: int = MIN_POSITIVE_DRAWS) -> xr.DataArray:
    """Per cell: every diagonal entry of K(theta) is positive in at least ``min_positive`` draws, so that
    V_diag and its bootstrap interval are defined. A narrow ReLU network is dead at an input (K_ii = 0)
    in some draws; a resample made only of such draws has E[K_ii] = 0, and with k positive draws out of N
    that happens with probability (1 - k/N)^N <= e^-k per resample (e^-16 ~ 1e-7)."""
    diag = xr.DataArray(np.diagonal(kernels.values, axis1=-2, axis2=-1), dims=(*kernels.dims[:-2], "entry"))
    diag = diag.assign_coords({d: kernels[d] for d in kernels.dims[:-2] if d in kernels.coords})
    return ((diag > 0).sum(DRAW_DIM) >= min_positive).all("entry")


def _cell_dims(kernels: xr.DataArray) -> list[str]:
    return [d for d in kernels.dims if d not in (DRAW_DIM, *MATRIX_DIMS)]


def measure_fluctuations(
    kernels: xr.DataArray,
    *,
    output_dim: int = 1,
    n_boot: int,
    seed: int | np.random.SeedSequence,
    confidence: float = 0.95,
) -> xr.Dataset:
    """V_diag and V_off per configuration cell with paired bootstrap CIs (see module docstring).

    Args:
        kernels: K(theta) over ``draw`` (draw ids as coordinate), ``i``, ``j`` and any cell dims
            (e.g. base_width, activation, schedule, depth); finite. Loaded one cell at a time.
        output_dim: m_l (the matrix is (n m_l) x (n m_l), n >= 2 points).
        n_boot, seed, confidence: bootstrap settings (one set of resamples for every cell).

    Returns:
        Dataset over the cell dims: ``v_diag``, ``v_off`` with ``*_ci_low``, ``*_ci_high``, ``*_se``,
        ``mean_diag`` (E[K_ee] averaged over entries: l/n on the sphere); ``n_draws``; ``v_diag_boot`` over
        the cell dims and ``resample`` (the B resampled V_diag values); attrs ``method``,
        ``random_numbers``, ``n_boot``, ``confidence``.
    """
    check_bootstrap_args(n_boot, confidence, "measure_fluctuations")
    integer("output_dim", output_dim, where="measure_fluctuations")
    if any(d not in kernels.dims for d in (DRAW_DIM, *MATRIX_DIMS)):
        raise ValueError(f"measure_fluctuations: kernels need dims ('draw', 'i', 'j'), got {kernels.dims}")
    (kernels,) = aligned_draws(kernels.transpose(..., DRAW_DIM, *MATRIX_DIMS), where="measure_fluctuations")
    n_draws = kernels.sizes[DRAW_DIM]
    if n_draws < 2:
        raise ValueError(f"measure_fluctuations: need >= 2 draws for a variance, got {n_draws}")
    counts = resample_counts(n_draws, n_boot, seed)
    dims = _cell_dims(kernels)
    cells = list(itertools.product(*(range(kernels.sizes[d]) for d in dims)))
    stats = [
        _cell_statistics(np.asarray(kernels.isel(dict(zip(dims, c, strict=True))).values, np.float64), counts,
                         output_dim, confidence)
        for c in cells
    ]  # fmt: skip
    shape = tuple(kernels.sizes[d] for d in dims)
    out = xr.Dataset(
        {k: (dims, np.array([st[k] for st in stats]).reshape(shape)) for k in stats[0] if k not in _PER_DRAW},
        coords={d: kernels[d] for d in dims if d in kernels.coords},
    )
    boot = np.array([st["v_diag_boot"] for st in stats]).reshape(*shape, n_boot)
    out["v_diag_boot"] = ((*dims, RESAMPLE_DIM), boot)
    jack = np.array([st["v_diag_jack"] for st in stats]).reshape(*shape, n_draws)
    out["v_diag_jack"] = xr.DataArray(jack, dims=(*dims, DRAW_DIM)).assign_coords({DRAW_DIM: kernels[DRAW_DIM].values})
    out["n_draws"] = n_draws
    method = f"{BCA_METHOD} (B={n_boot}) over draw ids, the same resamples in every cell"
    out.attrs.update(method=method, random_numbers=RANDOM_NUMBERS, n_boot=int(n_boot), confidence=float(confidence))
    return out


def _setting(cells: xr.Dataset, name: str, index: dict):
    if name in index:
        return index[name]
    if name in cells.coords and cells[name].ndim == 0:
        return cells[name].item()
    raise ValueError(f"predicted_fluctuations: {name!r} is neither a dim nor a scalar coordinate of the cells")


def predicted_fluctuations(
    cells: xr.Dataset | xr.DataArray, *, activations: Mapping[str, Activation] | None = None
) -> xr.Dataset:
    """The product-form V_diag, V_dsum and beta = sum_k 1/m_k for every cell.   [SCIENCE §6]

    Args:
        cells: anything whose dims or scalar coords give ``activation`` (name), ``schedule`` (quadratic,
            linear or constant), ``depth`` and ``base_width`` (e.g. :func:`measure_fluctuations` output).
        activations: name -> Activation for names ``Activation.named`` does not know.

    Returns:
        Dataset with ``v_diag_pred``, ``v_dsum_pred`` and ``beta`` over the dims of ``cells`` among those four.
    """
    dims = [d for d in cells.dims if d in _SETTINGS]
    shape = tuple(cells.sizes[d] for d in dims)
    pred, dsum, betas = np.empty(shape), np.empty(shape), np.empty(shape)
    for index in itertools.product(*(range(n) for n in shape)):
        at = {d: cells[d].values[k].item() for d, k in zip(dims, index, strict=True)}
        name, sched, depth, m = (_setting(cells, k, at) for k in _SETTINGS)
        if sched not in SCHEDULES:
            raise InvalidValue("schedule", sched, f"must be one of {', '.join(SCHEDULES)}", "predicted_fluctuations")
        act = activations[name] if activations and name in activations else Activation.named(str(name))
        hidden = widths(str(sched), int(m), int(depth), 1, 1)[1:-1]
        pred[index], dsum[index], betas[index] = v_diag(act, hidden), v_dsum(act, hidden), beta(hidden)
    coords = {d: cells[d] for d in dims if d in cells.coords}
    data = {"v_diag_pred": (dims, pred), "v_dsum_pred": (dims, dsum), "beta": (dims, betas)}
    return xr.Dataset(data, coords=coords)


def fluctuation_summary(
    kernels: xr.DataArray,
    *,
    output_dim: int = 1,
    n_boot: int,
    seed: int | np.random.SeedSequence,
    confidence: float = 0.95,
    activations: Mapping[str, Activation] | None = None,
) -> xr.Dataset:
    """:func:`measure_fluctuations` beside :func:`predicted_fluctuations`, with ``v_diag_ratio`` =
    v_diag / v_diag_pred and ``v_dsum_ratio`` = v_diag / v_dsum_pred, each with its CI (the predictions are
    exact, so the CI is the measured one divided by them).

    ``kernels`` must carry activation, schedule and depth as dims or scalar coords besides base_width.
    """
    measured = measure_fluctuations(kernels, output_dim=output_dim, n_boot=n_boot, seed=seed, confidence=confidence)
    for name in _SETTINGS:
        if name not in measured.coords and name in kernels.coords and kernels[name].ndim == 0:
            measured = measured.assign_coords({name: kernels[name]})
    out = xr.merge([measured, predicted_fluctuations(measured, activations=activations)], combine_attrs="override")
    for suffix in ("", "_ci_low", "_ci_high"):
        out[f"v_diag_ratio{suffix}"] = out[f"v_diag{suffix}"] / out["v_diag_pred"]
        out[f"v_dsum_ratio{suffix}"] = out[f"v_diag{suffix}"] / out["v_dsum_pred"]
    check_finite(out, "fluctuation_summary")
    return out


def pooled_ratio(summary: xr.Dataset, m_min: int, form: str = "product") -> xr.Dataset:
    """R = exp(mean over base widths m >= m_min of log(V_diag / V_pred)) per configuration, V_pred the
    ``form`` of :data:`FORMS`, with its paired BCa CI (the resampled and leave-one-out V_diag of every width
    come from the same resamples and the same left-out draw, ``v_diag_boot`` and ``v_diag_jack``).

    Returns:
        Dataset over the dims of ``summary`` but base_width and resample: ``ratio``, ``ratio_ci_low``,
        ``ratio_ci_high``, ``v_pred_max`` (the largest V_pred), ``beta_min``, ``beta_max`` (over the pooled
        widths); attr ``widths`` (the pooled base widths). Empty when no width is >= m_min.
    """
    missing = [v for v in ("v_diag_boot", "v_diag_jack", "v_dsum_pred") if v not in summary]
    if missing:
        raise ValueError(
            f"fluctuation summary without {', '.join(missing)} (written by an older version): recompute the "
            "fluctuation stores, e.g. snakemake --forcerun fluctuations"
        )
    if form not in FORMS:
        raise InvalidValue("form", form, f"must be one of {', '.join(FORMS)}", "pooled_ratio")
    pred = FORMS[form][0]
    kept = summary.sel(base_width=summary.base_width[summary.base_width >= m_min])
    if kept.sizes["base_width"] == 0:
        return xr.Dataset(attrs={"widths": []})
    log_point = np.log(kept.v_diag / kept[pred]).mean("base_width")
    log_boot = np.log(kept.v_diag_boot / kept[pred]).mean("base_width").transpose(RESAMPLE_DIM, ...)
    log_jack = np.log(kept.v_diag_jack / kept[pred]).mean("base_width").transpose(DRAW_DIM, ...)
    confidence = float(summary.attrs.get("confidence", 0.95))
    low, high = bca_ci(log_boot.values, log_point.values, log_jack.values, confidence)
    dims = list(log_point.dims)
    out = xr.Dataset(
        {
            "ratio": np.exp(log_point),
            "ratio_ci_low": (dims, np.exp(low)),
            "ratio_ci_high": (dims, np.exp(high)),
            "v_pred_max": kept[pred].max("base_width"),
            "beta_min": kept.beta.min("base_width"),
            "beta_max": kept.beta.max("base_width"),
        }
    )
    out.attrs["widths"] = [int(m) for m in kept.base_width.values]
    return out


def pooled_forms(summary: xr.Dataset, m_min: int) -> dict[str, xr.Dataset]:
    """:func:`pooled_ratio` of every form of :data:`FORMS` (what :func:`fluctuation_rows` and
    :func:`fluctuation_note` read; pass it as their ``pooled`` to compute it once)."""
    return {form: pooled_ratio(summary, m_min, form) for form in FORMS}


def _posed(cell: xr.Dataset, form: str, limits: Mapping[str, float]) -> bool:
    """Whether ``form`` is a prediction for this configuration: depth > 2 (depth 2 is an identity, posed
    once, as the product form's calibration), beta and V_pred within the form's range."""
    depth = cell["depth"].item() if "depth" in cell.coords else None
    schedule = cell["schedule"].item() if "schedule" in cell.coords else None
    if float(cell.v_pred_max) > limits["v_max"]:
        return False
    if form == "product":
        return float(cell.beta_max) <= limits["product_beta_max"]
    return depth != 2 and schedule == "constant" and float(cell.beta_max) <= limits["dsum_beta_max"]


def fluctuation_rows(
    summary: xr.Dataset,
    *,
    margin: float = DEFAULT_FLUCTUATION_MARGIN,
    m_min: int = CLAIM_DEFAULTS["m_min"],
    product_beta_max: float = CLAIM_DEFAULTS["product_beta_max"],
    dsum_beta_max: float = CLAIM_DEFAULTS["dsum_beta_max"],
    v_max: float = CLAIM_DEFAULTS["fluctuation_v_max"],
    pooled: Mapping[str, xr.Dataset] | None = None,
) -> list[dict]:
    """Claim rows per configuration and form of the law (:data:`FORMS`, :func:`_posed`): measured V_diag = the
    form at every base width m >= m_min, read as R = 1 (:func:`pooled_ratio`), Equivalence with a relative
    margin: holds if R's CI lies inside 1 +- margin, fails if it lies wholly outside, inconclusive otherwise.
    At depth 2 the law is an identity (K_ii is a mean of m i.i.d. terms: V_diag = w(1/2)/m exactly, SCIENCE
    §8.5): those rows check the estimator and are labelled ``calibration``. Each row states its beta range;
    a network two schedules share (every schedule at depth 2) has one row naming both.
    """
    rule = Equivalence(margin, relative=True)
    limits = {"product_beta_max": product_beta_max, "dsum_beta_max": dsum_beta_max, "v_max": v_max}
    rows = []
    every = pooled_forms(summary, m_min) if pooled is None else pooled
    for form, (_, text) in FORMS.items():
        pooled = every[form]
        if not pooled.attrs["widths"]:
            return []
        span = "..".join(str(m) for m in sorted({pooled.attrs["widths"][0], pooled.attrs["widths"][-1]}))
        dims = list(pooled.ratio.dims)
        names = [*_SETTINGS[:-1], "output_dim"]
        names += [d for d in dims if d not in names]  # any other swept key, so that every row is distinct
        cells = [pooled.isel(dict(zip(dims, index, strict=True)))
                 for index in itertools.product(*(range(pooled.sizes[d]) for d in dims))]  # fmt: skip
        cells = [cell for cell in cells if _posed(cell, form, limits)]
        settings = [{k: cell[k].item() for k in names if k in cell.coords} for cell in cells]
        for k, label in one_per_network(settings):  # one row per network (every schedule at depth 2 is one)
            cell = cells[k]
            where = ", ".join(f"{key}={value}" for key, value in label.items())
            betas = f"beta={float(cell.beta_min):.3g}..{float(cell.beta_max):.3g}"
            claim = f"V_diag = {text}: measured / predicted, geometric mean over m={span}, {betas} ({where})"
            ci = (float(cell.ratio_ci_low), float(cell.ratio_ci_high))
            depth = cell["depth"].item() if "depth" in cell.coords else None
            role = Role.CALIBRATION if depth == 2 else Role.CLAIM
            verdict = rule.decide(1.0, *ci)
            rows.append(claim_row(claim, Kind.MEASURED, 1.0, float(cell.ratio), ci, rule, verdict, role=role))
    return rows


def fluctuation_note(
    summary: xr.Dataset,
    *,
    m_min: int = CLAIM_DEFAULTS["m_min"],
    product_beta_max: float = CLAIM_DEFAULTS["product_beta_max"],
    dsum_beta_max: float = CLAIM_DEFAULTS["dsum_beta_max"],
    v_max: float = CLAIM_DEFAULTS["fluctuation_v_max"],
    pooled: Mapping[str, xr.Dataset] | None = None,
) -> str:
    """One line naming the configurations for which no form of the law is posed, and why; "" if none."""
    limits = {"product_beta_max": product_beta_max, "dsum_beta_max": dsum_beta_max, "v_max": v_max}
    pooled = pooled_forms(summary, m_min) if pooled is None else pooled
    if not pooled["product"].attrs["widths"]:
        return ""
    dims = list(pooled["product"].ratio.dims)
    left = []
    for index in itertools.product(*(range(pooled["product"].sizes[d]) for d in dims)):
        cells = {f: p.isel(dict(zip(dims, index, strict=True))) for f, p in pooled.items()}
        if not any(_posed(c, f, limits) for f, c in cells.items()):
            c = cells["product"]
            where = ", ".join(f"{k}={c[k].item()}" for k in dims)
            left.append(f"{where} (beta up to {float(c.beta_max):.2g}, V_diag ~ {float(c.v_pred_max):.2g})")
    if not left:
        return ""
    return (
        f"No fluctuation-law row where neither form is a prediction at these sizes (product form: beta <= "
        f"{product_beta_max:g}; V_dsum: constant widths, beta <= {dsum_beta_max:g}; both: V_diag <= {v_max:g}, "
        f"SCIENCE §6): {'; '.join(left)}."
    )


def predicted_curves(
    activations: Sequence[str],
    base_width: int,
    depths: Sequence[int],
    *,
    schedules: Sequence[str] = SCHEDULES,
    activation_map: Mapping[str, Activation] | None = None,
) -> xr.Dataset:
    """The laws along depth at one base width, for drawing.   [SCIENCE §6]

    Returns:
        Dataset with ``v_diag_pred`` (product form) and ``v_dsum_pred`` (independent-layer sum) over
        (activation, schedule, depth), ``quadratic_limit`` (the l -> infinity saturation
        sinh(pi sqrt(C/m)) / (pi sqrt(C/m)) - 1) over activation, ``hanin_nica`` (e^{5 beta} - 1, the
        ReLU reference) and ``beta`` over (schedule, depth); coordinate ``base_width``.
    """
    acts = {
        a: activation_map[a] if activation_map and a in activation_map else Activation.named(a) for a in activations
    }
    ls = [integer(f"depths[{k}]", d, where="predicted_curves") for k, d in enumerate(depths)]
    hidden = {(s, d): widths(s, base_width, d, 1, 1)[1:-1] for s in schedules for d in ls}
    law = {
        name: [[[fn(act, hidden[s, d]) for d in ls] for s in schedules] for act in acts.values()]
        for name, fn in (("v_diag_pred", v_diag), ("v_dsum_pred", v_dsum))
    }
    coords = {"activation": list(acts), "schedule": list(schedules), "depth": ls, "base_width": base_width}
    per_schedule = ("schedule", "depth")
    return xr.Dataset(
        {
            **{name: (("activation", *per_schedule), np.array(v)) for name, v in law.items()},
            "quadratic_limit": ("activation", [v_diag_quadratic_limit(a, base_width) for a in acts.values()]),
            "hanin_nica": (per_schedule, [[hanin_nica(hidden[s, d]) for d in ls] for s in schedules]),
            "beta": (per_schedule, [[beta(hidden[s, d]) for d in ls] for s in schedules]),
        },
        coords=coords,
    )
