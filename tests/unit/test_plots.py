"""Figures are produced from small synthetic datasets, written as PNG and PDF, non-empty (ntk_eoc.plots)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from ntk_eoc import Activation
from ntk_eoc.analysis import plots, stats
from ntk_eoc.analysis.spectrum import eigen_summary, limit_spectrum

N_BOOT = 50  # figures only need some CI band, not an accurate one
ACTIVATIONS = ["relu", "abs"]
WIDTHS = [16, 64, 256]


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


def _written(fig: Figure, tmp_path, name: str) -> None:
    assert isinstance(fig, Figure)
    png, pdf = plots.save_figure(fig, tmp_path / "figures" / name)
    assert png.suffix == ".png" and pdf.suffix == ".pdf"
    assert png.stat().st_size > 1000 and pdf.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"


def test_deviation_vs_width_with_slopes(summary, tmp_path):
    ref = summary.sel(depth=4, output_dim=1)
    # slopes are only read from this dataset, so any values with the right dims will do
    slopes = xr.Dataset(
        {
            k: (("activation", "schedule"), np.full((2, 2), v))
            for k, v in {"slope": -0.5, "ci_low": -0.6, "ci_high": -0.4}.items()
        },
        coords={"activation": ACTIVATIONS, "schedule": ["quadratic", "constant"]},
    )
    fig = plots.plot_deviation_vs_width(ref, var="op_abs", slopes=slopes)
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("slope -0.5 (theory)" in t for t in labels)
    assert any("activation=abs, schedule=constant (slope -0.500" in t for t in labels)
    _written(fig, tmp_path, "deviation_vs_width")


def test_schedule_comparison(summary, tmp_path):
    _written(plots.plot_schedule_comparison(summary.sel(output_dim=1), var="op_abs"), tmp_path, "schedules")


def test_activation_factor(summary, tmp_path):
    factor = xr.DataArray(
        [stats.theory_bound_factor(Activation.named(a), 4) for a in ACTIVATIONS],
        dims="activation",
        coords={"activation": ACTIVATIONS},
    )
    ref = summary.sel(depth=4, output_dim=1, schedule="quadratic")
    _written(plots.plot_activation_factor(ref, factor), tmp_path, "activations")


def test_output_dimension(summary, tmp_path):
    ref = summary.sel(depth=4, base_width=256, schedule="quadratic")
    _written(plots.plot_output_dimension(ref), tmp_path, "output_dim")


def test_limit_spectrum_and_inverse_cosine(spec, tmp_path):
    fig = plots.plot_limit_spectrum(spec)
    dashed = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_label() == "predicted limit"]
    assert len(dashed) == 4
    _written(fig, tmp_path, "limit_spectrum")
    _written(plots.plot_inverse_cosine_error(spec), tmp_path, "inverse_cosine")


def test_kernel_spectrum_vs_width(tmp_path):
    rng = np.random.default_rng(3)
    a = 0.1 * rng.standard_normal((20, 3, 5, 5)) / np.sqrt(np.array(WIDTHS))[:, None, None]
    kernels = np.eye(5) + a + a.transpose(0, 1, 3, 2)
    eig = eigen_summary(xr.DataArray(kernels, dims=("draw", "base_width", "i", "j"), coords={"base_width": WIDTHS}))
    summary = stats.summarize(eig[["lambda_min", "lambda_max", "cond"]], n_boot=N_BOOT, seed=4)
    limit = eigen_summary(xr.DataArray(np.eye(5), dims=("i", "j")))
    _written(plots.plot_kernel_spectrum_vs_width(summary, limit), tmp_path, "kernel_spectrum")


def test_too_many_line_dims_raises(summary):
    with pytest.raises(ValueError, match="at most two dims"):
        plots.plot_deviation_vs_width(summary, var="op_abs")


def test_deviation_vs_cost_draws_one_line_per_network_and_panel(tmp_path):
    rng = np.random.default_rng(3)
    names, dims = ["dense", "middle"], ("factorization", "dataset.input_dim", "base_width", "draw")
    coords = {"factorization": names, "dataset.input_dim": [8, 64], "base_width": WIDTHS}
    values = rng.gamma(4.0, size=(2, 2, 3, 32)) * np.array(WIDTHS)[:, None] ** -0.5
    dev = stats.summarize(xr.Dataset({"op_rel": (dims, values)}, coords=coords), n_boot=N_BOOT, seed=1)
    lam = stats.summarize(xr.Dataset({"lambda_min": (dims, values + 1.0)}, coords=coords), n_boot=N_BOOT, seed=1)
    params = np.array([[[1e3, 4e3, 16e3]] * 2, [[4e2, 1.6e3, 6.4e3]] * 2])
    cost = xr.Dataset({"n_params": (dims[:3], params), "seconds_per_draw": (dims[:3], params * 1e-6)}, coords=coords)
    fig = plots.plot_deviation_vs_cost(dev, lam, cost, rows="dataset.input_dim")
    axes = fig.get_axes()
    assert len(axes) == 2 * 4  # rows: input dims; columns: width, parameters, time, lambda_min
    assert all(len(ax.get_lines()) == 2 for ax in axes)
    # The parameter panel puts each network at its own parameter counts.
    np.testing.assert_array_equal(axes[1].get_lines()[1].get_xdata(), params[1, 0])
    _written(fig, tmp_path, "factorized")
