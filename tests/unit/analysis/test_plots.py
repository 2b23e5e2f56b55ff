"""Figures (ntk_eoc.analysis.plots) are built from small synthetic datasets and checked for what they draw:
one colour per activation and one line style per schedule in every figure, titles that state the fixed
settings, labelled ticks on every log axis, the theory guides; and they are written as PNG and PDF."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from ntk_eoc import Activation
from ntk_eoc.analysis import plots, stats
from ntk_eoc.analysis.plots import style
from ntk_eoc.analysis.spectrum import eigen_summary, limit_spectrum

N_BOOT = 50  # figures only need some CI band, not an accurate one
ACTIVATIONS = ["relu", "abs"]
WIDTHS = [16, 64, 256]
SETTINGS = {"depth": 4, "output_dim": 1, "schedule": "quadratic", "n_points": 32, "input_dim": 16, "draws": 128}
ACTIVATION_HEX = {"relu": to_hex("tab:blue"), "abs": to_hex("tab:orange")}
SCHEDULE_STYLES = {"quadratic": "-", "constant": "--"}  # as matplotlib reports them (Line2D.get_linestyle)


@pytest.fixture(scope="module")
def summary() -> xr.Dataset:
    rng = np.random.default_rng(0)
    shape = (2, 2, 2, 2, 3, 32)  # activation, schedule, depth, output_dim, base_width, draw
    values = rng.gamma(4.0, size=shape) * np.array(WIDTHS)[:, None] ** -0.5
    dev = xr.Dataset(
        {"op_abs": (("activation", "schedule", "depth", "output_dim", "base_width", "draw"), values)},
        coords={
            "activation": ACTIVATIONS,
            "schedule": ["quadratic", "constant"],
            "depth": [2, 4],
            "output_dim": [1, 4],
            "base_width": WIDTHS,
        },
    )
    return stats.summarize(dev, n_boot=N_BOOT, seed=1)


@pytest.fixture(scope="module")
def spec() -> xr.Dataset:
    x = np.random.default_rng(2).standard_normal((4, 6))
    x *= np.sqrt(6) / np.linalg.norm(x, axis=1, keepdims=True)
    parts = [limit_spectrum(x, Activation.named(a), [1, 3, 10, 30, 100]) for a in ACTIVATIONS]
    return xr.concat(parts, dim="activation", data_vars="all", coords="different", compat="equals")


def _factor(out_dims=(1,)) -> xr.DataArray:
    values = [[stats.theory_bound_factor(Activation.named(a), 4, o) for o in out_dims] for a in ACTIVATIONS]
    delta = ("activation", [Activation.named(a).delta for a in ACTIVATIONS])
    coords = {"activation": ACTIVATIONS, "output_dim": list(out_dims), "delta": delta}
    return xr.DataArray(values, dims=("activation", "output_dim"), coords=coords)


def _kernel_summary() -> tuple[xr.Dataset, xr.Dataset]:
    rng = np.random.default_rng(3)
    a = 0.1 * rng.standard_normal((20, 2, 3, 5, 5)) / np.sqrt(np.array(WIDTHS))[:, None, None]
    kernels = np.eye(5) + a + np.swapaxes(a, -1, -2)
    dims, coords = ("draw", "activation", "base_width", "i", "j"), {"activation": ACTIVATIONS, "base_width": WIDTHS}
    eig = eigen_summary(xr.DataArray(kernels, dims=dims, coords=coords))
    summary = stats.summarize(eig[["lambda_min", "lambda_max", "cond"]], n_boot=N_BOOT, seed=4)
    limit = eigen_summary(
        xr.DataArray(np.stack([np.eye(5)] * 2), dims=("activation", "i", "j"), coords={"activation": ACTIVATIONS})
    )
    return summary, limit


@pytest.fixture(scope="module")
def figures(summary, spec) -> dict[str, Figure]:
    """Every figure of study limit with the synthetic data, the fixed settings passed as the stage does."""
    ref = summary.sel(depth=4, output_dim=1)
    ksum, klimit = _kernel_summary()
    return {
        "deviation_vs_width": plots.plot_deviation_vs_width(ref, var="op_abs", settings=SETTINGS),
        "schedules": plots.plot_schedule_comparison(summary.sel(output_dim=1), var="op_abs", settings=SETTINGS),
        "activations": plots.plot_activation_factor(
            ref.sel(schedule="quadratic"), _factor().sel(output_dim=1), settings=SETTINGS
        ),
        "output_dim": plots.plot_output_dimension(
            summary.sel(depth=4, base_width=256, schedule="quadratic"), factor=_factor((1, 4)), settings=SETTINGS
        ),
        "limit_spectrum": plots.plot_limit_spectrum(spec, settings={"input_dim": 6}),
        "inverse_cosine": plots.plot_inverse_cosine_error(spec, settings={"input_dim": 6}),
        "kernel_spectrum": plots.plot_kernel_spectrum_vs_width(ksum, klimit, settings=SETTINGS),
    }


def _written(fig: Figure, tmp_path, name: str) -> None:
    assert isinstance(fig, Figure)
    png, pdf = plots.save_figure(fig, tmp_path / "figures" / name)
    assert png.suffix == ".png" and pdf.suffix == ".pdf"
    assert png.stat().st_size > 1000 and pdf.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"


def _titles(fig: Figure) -> str:
    texts = [ax.get_title() for ax in fig.axes]
    return "\n".join(texts + ([fig._suptitle.get_text()] if fig._suptitle else []))


def _data_lines(fig: Figure):
    """(label, line) of every labelled line that names one activation of ACTIVATIONS."""
    for ax in fig.axes:
        for line in ax.get_lines():
            label = line.get_label()
            names = [a for a in ACTIVATIONS if a in label.replace(",", " ").replace("(", " ").split()]
            if len(names) == 1:
                yield names[0], line


def test_every_figure_is_written(figures, tmp_path):
    for name, fig in figures.items():
        _written(fig, tmp_path, name)


def test_one_colour_per_activation_in_every_figure(figures):
    seen = {}
    for name, fig in figures.items():
        lines = list(_data_lines(fig))
        assert {act for act, _ in lines} == set(ACTIVATIONS), name
        for act, line in lines:
            seen.setdefault(act, set()).add(to_hex(line.get_color()))
    assert seen == {a: {c} for a, c in ACTIVATION_HEX.items()}


def test_one_line_style_per_schedule(figures, summary):
    for name in ("deviation_vs_width", "schedules"):
        styles = {}
        for ax in figures[name].axes:
            for line in ax.get_lines():
                for schedule in set(line.get_label().split(", ")) & set(SCHEDULE_STYLES):
                    styles.setdefault(schedule, set()).add(line.get_linestyle())
        assert styles == {s: {ls} for s, ls in SCHEDULE_STYLES.items()}, name
    # A figure whose schedule is fixed draws its data in that schedule's style.
    fixed = plots.plot_output_dimension(summary.sel(depth=4, base_width=256, schedule="constant"))
    assert {line.get_linestyle() for _, line in _data_lines(fixed) if line.get_marker() == "o"} == {"--"}
    assert style.schedule_linestyle("linear") == "-."


def test_titles_state_the_fixed_settings(figures):
    for name in ("deviation_vs_width", "activations", "output_dim", "kernel_spectrum"):
        text = _titles(figures[name])
        for part in ("depth l = 4", "n = 32", "m_0 = 16", "128 draws"):
            assert part in text, (name, part, text)
        # deviation_vs_width draws the schedules; the others hold the quadratic schedule fixed.
        assert ("quadratic widths m_k = k² m" in text) == (name != "deviation_vs_width"), name
    assert "m = 256" in _titles(figures["output_dim"]) and "m_l = 1" in _titles(figures["deviation_vs_width"])
    # A dim the figure draws is not a fixed setting: schedules draws depth, output_dim draws m_l.
    assert "depth l =" not in _titles(figures["schedules"]) and "m = 256" in _titles(figures["schedules"])
    assert "m_l =" not in _titles(figures["output_dim"])
    for name in ("limit_spectrum", "inverse_cosine"):
        assert "n = 4, m_0 = 6" in _titles(figures[name]), name


def _labelled_ticks(ax, axis: str) -> list[str]:
    target = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    ticks = target.get_majorticklabels() + target.get_minorticklabels()
    return [t.get_text() for t in ticks if t.get_text() and lo <= t.get_position()[axis == "y"] <= hi]


def _hidden_by_sharing(ax, axis: str) -> bool:
    """Inner axes of a shared grid hide their tick labels: the outer axes show the same ticks."""
    shared = (ax.get_shared_x_axes() if axis == "x" else ax.get_shared_y_axes()).get_siblings(ax)
    target = ax.xaxis if axis == "x" else ax.yaxis
    return len(shared) > 1 and not any(t.label1.get_visible() for t in target.get_major_ticks())


def test_every_log_axis_has_tick_labels(figures):
    checked = 0
    for name, fig in figures.items():
        fig.draw_without_rendering()
        for ax in fig.axes:
            for axis in ("x", "y"):
                scale = ax.get_xscale() if axis == "x" else ax.get_yscale()
                if scale == "log" and not _hidden_by_sharing(ax, axis):
                    assert len(_labelled_ticks(ax, axis)) >= 2, (name, ax.get_title(), axis)
                    checked += 1
    assert checked >= 15


@pytest.mark.parametrize("low, high", [(0.072, 0.154), (0.5, 0.56), (3e-3, 0.4), (1e-5, 10.0)])
def test_log_ticks_label_any_range(low, high):
    fig = Figure()
    ax = fig.subplots()
    ax.plot([1, 2], [low, high])
    ax.set_yscale("log")
    style.log_ticks(ax)
    fig.draw_without_rendering()
    labels = _labelled_ticks(ax, "y")
    assert len(labels) >= 3, labels
    # Ticks above the lowest decade are labelled too (the old output_dim figure had none above 0.1).
    values = [float(t.replace("e", "e")) for t in labels]
    assert max(values) >= low * (high / low) ** 0.6


def test_limit_spectrum_gap_panels_follow_the_predicted_log_terms(figures, spec):
    fig = figures["limit_spectrum"]
    assert len(fig.axes) == 6
    dashed = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_label() == "predicted limit"]
    assert len(dashed) == 4
    theta_ax, cond_ax = fig.axes[4], fig.axes[5]
    assert theta_ax.get_yscale() == cond_ax.get_yscale() == theta_ax.get_xscale() == "log"
    lines = {ln.get_label(): ln for ln in theta_ax.get_lines()}
    relu = spec.sel(activation="relu")
    np.testing.assert_allclose(lines["relu (Δ = 0.5)"].get_ydata(), np.abs(relu.theta_offdiag_scaled_mean - 0.25))
    guide = lines["(3/8) ln(l) / l (theory)"]
    depth = np.asarray(guide.get_xdata(), dtype=float)
    assert depth.min() >= 2  # ln(1) = 0 is not drawn on a log axis
    np.testing.assert_allclose(guide.get_ydata(), 3 / 8 * np.log(depth) / depth)
    n = spec.attrs["n_points"]
    cond = {ln.get_label(): ln for ln in cond_ax.get_lines()}
    np.testing.assert_allclose(cond["abs (Δ = 1)"].get_ydata(), np.abs(spec.sel(activation="abs").cond - (1 + n / 3)))
    (cond_guide,) = [ln for label, ln in cond.items() if label.startswith("(2n/3) ln(l) / l")]
    np.testing.assert_allclose(cond_guide.get_ydata(), 2 * n / 3 * np.log(depth) / depth)


def test_activation_figure_divides_by_the_bound_factor(figures):
    left, right = figures["activations"].axes
    factor = _factor().sel(output_dim=1)
    for (act, a), (_, b) in zip(_data_lines_of(left), _data_lines_of(right), strict=True):
        np.testing.assert_allclose(b.get_ydata(), np.asarray(a.get_ydata()) / float(factor.sel(activation=act)))
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    ratio = float(factor.sel(activation="relu") / factor.sel(activation="abs"))
    assert labels == ["relu: Δ = 0.5, factor 16 (×3.20)", "abs: Δ = 1, factor 5 (×1.00)"]
    assert math.isclose(ratio, 3.2)


def _data_lines_of(ax):
    return [(a, ln) for a in ACTIVATIONS for ln in ax.get_lines() if ln.get_label().startswith(a)]


def test_output_dimension_guide_is_the_bound_factor_not_sqrt(figures, summary):
    ax = figures["output_dim"].axes[0]
    factor = _factor((1, 4))
    guides = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(guides) == len(ACTIVATIONS)
    for act, guide in zip(ACTIVATIONS, guides, strict=True):
        f = factor.sel(activation=act).values
        first = float(summary.op_abs.sel(activation=act, depth=4, base_width=256, schedule="quadratic", output_dim=1,
                                         statistic="mean", bound="value"))  # fmt: skip
        np.testing.assert_allclose(guide.get_ydata(), first * f / f[0])
        assert to_hex(guide.get_color()) == ACTIVATION_HEX[act]


def test_kernel_spectrum_states_a_missing_cond_panel():
    ksum, klimit = _kernel_summary()
    fig = plots.plot_kernel_spectrum_vs_width(
        ksum, klimit, names=("lambda_min", "lambda_max"), note="cond(K(θ)) not drawn: λ_min ≤ 0 in 3 of 60 draws"
    )
    assert len(fig.axes) == 2 and "not drawn: λ_min ≤ 0 in 3 of 60 draws" in _titles(fig)
    assert len(plots.plot_kernel_spectrum_vs_width(ksum, klimit).axes) == 3


def test_activation_colors_are_fixed_or_ordered_by_slope():
    names = ["leaky_relu(0.5)", "abs", "leaky_relu(-0.5)", "relu", "ab(1,2)"]
    colors = style.activation_colors(names)
    assert colors == style.activation_colors(reversed(names))
    assert (colors["relu"], colors["abs"]) == ("tab:blue", "tab:orange")
    assert [colors[n] for n in ("leaky_relu(-0.5)", "leaky_relu(0.5)", "ab(1,2)")] == list(style.OTHER_COLORS[:3])
    assert len(set(colors.values())) == len(names)


def test_too_many_line_dims_raises(summary):
    with pytest.raises(ValueError, match="at most two dims"):
        plots.plot_deviation_vs_width(summary, var="op_abs")


def test_deviation_vs_width_legend_gives_the_fitted_slopes(summary):
    ref = summary.sel(depth=4, output_dim=1)
    # slopes are only read from this dataset, so any values with the right dims will do
    slopes = xr.Dataset(
        {
            k: (("activation", "schedule"), np.full((2, 2), v))
            for k, v in {"slope": -0.5, "ci_low": -0.6, "ci_high": -0.4}.items()
        },
        coords={"activation": ACTIVATIONS, "schedule": ["quadratic", "constant"]},
    )
    ax = plots.plot_deviation_vs_width(ref, var="op_abs", slopes=slopes).axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "slope -0.5 (theory)" in labels
    assert "abs, constant (slope -0.500 [-0.600, -0.400])" in labels
    np.testing.assert_array_equal(ax.get_xticks(), WIDTHS)  # ticked at the measured widths


def test_deviation_vs_cost_draws_one_line_per_network_and_panel(tmp_path):
    rng = np.random.default_rng(3)
    names, dims = ["dense", "middle"], ("factorization", "dataset.input_dim", "base_width", "draw")
    coords = {"factorization": names, "dataset.input_dim": [8, 64], "base_width": WIDTHS}
    values = rng.gamma(4.0, size=(2, 2, 3, 32)) * np.array(WIDTHS)[:, None] ** -0.5
    dev = stats.summarize(xr.Dataset({"op_rel": (dims, values)}, coords=coords), n_boot=N_BOOT, seed=1)
    lam = stats.summarize(xr.Dataset({"lambda_min": (dims, values + 1.0)}, coords=coords), n_boot=N_BOOT, seed=1)
    params = np.array([[[1e3, 4e3, 16e3]] * 2, [[4e2, 1.6e3, 6.4e3]] * 2])
    cost = xr.Dataset({"n_params": (dims[:3], params), "seconds_per_draw": (dims[:3], params * 1e-6)}, coords=coords)
    fig = plots.plot_deviation_vs_cost(
        dev, lam, cost, rows="dataset.input_dim", settings={**SETTINGS, "activation": "relu"}
    )
    axes = fig.get_axes()
    assert len(axes) == 2 * 4  # rows: input dims; columns: width, parameters, time, lambda_min
    assert all(len(ax.get_lines()) == 2 for ax in axes)
    # The parameter panel puts each network at its own parameter counts.
    np.testing.assert_array_equal(axes[1].get_lines()[1].get_xdata(), params[1, 0])
    # Networks differ by marker and shade of the activation's colour (relu: blue), in its schedule's style.
    dense, middle = axes[0].get_lines()
    assert to_hex(dense.get_color()) == ACTIVATION_HEX["relu"] != to_hex(middle.get_color())
    assert dense.get_marker() != middle.get_marker() and dense.get_linestyle() == "-"
    assert "relu" in _titles(fig) and "dataset.input_dim" not in fig._suptitle.get_text()
    _written(fig, tmp_path, "factorized")


def test_first_order_predictions_are_drawn_beside_their_curves(summary):
    """Where the summary has <var>_first_order, each curve gets its prediction (x markers, its colour and
    line style) and the legend one entry; a cell without a prediction (NaN) draws nothing."""
    predicted = summary["op_abs"].copy() * 0.9
    predicted.loc[{"schedule": "constant"}] = np.nan
    with_pred = summary.assign(op_abs_first_order=predicted)
    for fig in (
        plots.plot_deviation_vs_width(with_pred.sel(depth=4, output_dim=1), var="op_abs"),
        plots.plot_schedule_comparison(with_pred.sel(output_dim=1), var="op_abs"),
    ):
        ax = fig.axes[0]
        crosses = [line for line in ax.get_lines() if line.get_marker() == "x" and len(line.get_xdata())]
        assert len(crosses) == 2  # relu and abs, quadratic only
        assert {to_hex(line.get_color()) for line in crosses} == set(ACTIVATION_HEX.values())
        assert all(line.get_linestyle() == SCHEDULE_STYLES["quadratic"] for line in crosses)
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels.count("× first-order prediction (SCIENCE §6.1)") == 1
    plain = plots.plot_deviation_vs_width(summary.sel(depth=4, output_dim=1), var="op_abs").axes[0]
    assert not [line for line in plain.get_lines() if line.get_marker() == "x"]
