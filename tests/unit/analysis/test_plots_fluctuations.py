"""Figures of the fluctuation law: what is drawn (points, lines, labels, settings), not pixels
(ntk_eoc.analysis.plots.fluctuations)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from ntk_eoc.analysis import plots
from ntk_eoc.analysis.fluctuations import predicted_curves, predicted_fluctuations
from ntk_eoc.analysis.plots.style import activation_colors

ACTIVATIONS, SCHEDULES, DEPTHS, WIDTHS = ["relu", "abs"], ["quadratic", "linear", "constant"], [2, 4, 8], [16, 64]


@pytest.fixture(scope="module")
def summary() -> xr.Dataset:
    """A fluctuation summary whose measured values are the law times 1.05, CI +-10%."""
    cells = xr.Dataset(coords={"activation": ACTIVATIONS, "schedule": SCHEDULES, "depth": DEPTHS, "base_width": WIDTHS})
    out = predicted_fluctuations(cells)
    out["v_diag"] = 1.05 * out.v_diag_pred
    out["v_diag_ci_low"], out["v_diag_ci_high"] = 0.9 * out.v_diag, 1.1 * out.v_diag
    out["n_draws"] = 4000
    out.attrs.update(n_boot=500, confidence=0.95)
    return out


def _errorbars(ax) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def test_law_figure_draws_every_configuration_against_the_identity(summary, tmp_path):
    fig = plots.plot_fluctuation_law(summary, margin=0.1)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    bars = _errorbars(ax)
    assert len(bars) == len(SCHEDULES) * len(ACTIVATIONS)  # one series per (schedule, activation)
    points = np.concatenate([b.lines[0].get_xdata() for b in bars])
    assert points.size == summary.v_diag.size  # every configuration (depth x base width) is a point
    np.testing.assert_allclose(np.sort(points), np.sort(summary.v_diag_pred.values.ravel()))
    labels = {line.get_label(): line for line in ax.get_lines()}
    identity = labels["measured = predicted"]
    np.testing.assert_allclose(identity.get_xdata(), identity.get_ydata())
    assert "± 10%" in labels
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "relu, quadratic" in legend and "abs, constant" in legend
    colors = activation_colors(ACTIVATIONS)  # the colour of each activation in every figure
    for bar, label in zip(bars, [f"{a}, {s}" for s in SCHEDULES for a in ACTIVATIONS], strict=True):
        assert bar.get_label() == label and bar.lines[0].get_color() == colors[label.split(",")[0]]
    title = ax.get_title()
    assert "depth l = 2, 4, 8" in title and "base width m = 16, 64" in title and "4000 draws" in title
    assert "95% bootstrap CI" in title
    assert any(t.get_text() == "0.1" for t in ax.get_xticklabels())  # plain numbers on the log axis
    fig.savefig(tmp_path / "law.png")


def test_depth_figure_draws_measured_points_and_the_law_per_schedule(summary, tmp_path):
    one = summary.sel(base_width=16)
    curves = predicted_curves(ACTIVATIONS, 16, range(2, 9))
    fig = plots.plot_fluctuations_vs_depth(one, curves)
    assert len(fig.axes) == len(ACTIVATIONS)
    for ax, act in zip(fig.axes, ACTIVATIONS, strict=True):
        assert ax.get_title() == f"activation = {act}" and ax.get_yscale() == "log"
        assert [int(t) for t in ax.get_xticks()] == DEPTHS
        lines = {line.get_label(): line for line in ax.get_lines()}
        for sched in SCHEDULES:
            np.testing.assert_allclose(lines[f"{sched}: product form"].get_ydata(),
                                       curves.v_diag_pred.sel(activation=act, schedule=sched))  # fmt: skip
        np.testing.assert_allclose(lines["constant: V_dsum (independent-layer sum)"].get_ydata(),
                                   curves.v_dsum_pred.sel(activation=act, schedule="constant"))  # fmt: skip
        reference = "constant, reference: Hanin–Nica e^{5β} − 1 (ReLU)"
        assert (reference in lines) == (act == "relu")
        if act == "relu":
            np.testing.assert_allclose(lines[reference].get_ydata(), curves.hanin_nica.sel(schedule="constant"))
        saturation = lines["quadratic l → ∞: sinh(π√(C/m))/(π√(C/m)) − 1 ≈ Cπ²/6m"]
        assert saturation.get_ydata()[0] == pytest.approx(float(curves.quadratic_limit.sel(activation=act)))
        assert len(_errorbars(ax)) == len(SCHEDULES)
    assert "base width m = 16" in fig.get_suptitle() and "4000 draws" in fig.get_suptitle()
    assert "constant, reference: Hanin–Nica e^{5β} − 1 (ReLU)" in [t.get_text() for t in fig.legends[0].get_texts()]
    fig.savefig(tmp_path / "depth.png")


def test_depth_figure_needs_one_base_width(summary):
    with pytest.raises(ValueError, match="select one base_width"):
        plots.plot_fluctuations_vs_depth(summary, predicted_curves(ACTIVATIONS, 16, DEPTHS))
