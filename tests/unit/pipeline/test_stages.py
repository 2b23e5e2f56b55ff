"""The analysis stages and the plan's side of them: run grids, figure selection, settings sections,
per-run concentration, spectrum stores."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import xarray as xr

from ntk_eoc.analysis.grid import grid, reference
from ntk_eoc.math.activations import activation_from_config
from ntk_eoc.pipeline.outputs import run_axes
from ntk_eoc.pipeline.plan import figure_names
from ntk_eoc.pipeline.runs import ConfigError, checked
from ntk_eoc.pipeline.settings import DEFAULT_DEPTHS, ConcentrationSettings, FigureSettings, SpectrumSettings
from ntk_eoc.pipeline.stages.concentration import concentration
from ntk_eoc.pipeline.stages.spectrum import finite_part


def _axes(run_id: str) -> dict:
    """Typed axes of a run id ``key~value__...`` (as compose would parse them)."""
    out = {}
    for part in run_id.split("__"):
        key, _, text = part.partition("~")
        for kind in (int, float, str):
            try:
                out[key] = kind(text)
                break
            except ValueError:
                continue
    activation = {"name": out.get("activation", "leaky_relu")}
    if "activation.alpha" in out:
        activation["alpha"] = out["activation.alpha"]
    return run_axes(out, activation_from_config(activation).name)


def figures_for(run_ids):
    return figure_names(_axes(r) for r in run_ids)


def test_run_axes_collapse_activation_keys_into_the_activation_name():
    assert _axes("activation~relu__depth~4__dataset.scale~0.5") == {
        "activation": "relu",
        "depth": 4,
        "dataset.scale": 0.5,
    }
    assert _axes("activation.alpha~-1__depth~2") == {"depth": 2, "activation": "leaky_relu(-1)"}


def test_figures_for_needs_two_values_of_the_compared_key():
    runs = ["activation~relu__depth~2", "activation~abs__depth~2"]
    assert figures_for(runs) == [
        "deviation_vs_width",
        "activations",
        "limit_spectrum",
        "inverse_cosine",
        "kernel_spectrum",
        "fluctuations",
    ]
    assert "schedules" in figures_for(["depth~2", "depth~4"])
    assert "fluctuations_depth" in figures_for(["depth~2", "depth~4"])
    assert "output_dim" in figures_for(["output_dim~1", "output_dim~4"])
    assert "factorized" in figures_for(["factorization~dense", "factorization~middle"])
    assert "factorized" not in figures_for(["factorization~dense__depth~2", "factorization~dense__depth~3"])


def _run_store(run, value):
    ds = xr.Dataset(
        {"op_abs": (("base_width", "draw"), np.full((2, 3), value))},
        coords={"base_width": [8, 16], "draw": [0, 1, 2]},
    )
    return ds


def _grid(run_ids):
    return grid([_run_store(r, v) for r, v in run_ids.items()], [list(_axes(r).items()) for r in run_ids])


def test_grid_puts_runs_on_swept_dims_and_rejects_holes():
    runs = {"activation~relu__depth~2": 1.0, "activation~abs__depth~2": 2.0, "activation~relu__depth~4": 3.0}
    with pytest.raises(ValueError, match="do not fill the grid"):
        _grid(runs)
    full = _grid({**runs, "activation~abs__depth~4": 4.0})
    assert dict(full.sizes) == {"activation": 2, "depth": 2, "base_width": 2, "draw": 3}
    assert float(full.op_abs.sel(activation="abs", depth=4, base_width=8, draw=0)) == 4.0
    ref = reference(full, keep=("activation",))
    assert int(ref.depth) == 4 and int(ref.base_width) == 16  # largest depth and base width


def test_grid_names_activation_parameter_sweeps_by_activation_name():
    full = _grid({f"activation.alpha~{a}": v for a, v in ((-1, 1.0), (0.5, 2.0))})
    assert full.activation.values.tolist() == ["leaky_relu(-1)", "leaky_relu(0.5)"]
    assert "activations" in figures_for(["activation.alpha~-1", "activation.alpha~0.5"])


def test_analysis_settings_defaults_and_errors():
    assert ConcentrationSettings.from_config({}).claims_norm == "op_abs"
    assert FigureSettings.from_config(None).deviation == "op_rel"
    with pytest.raises(ConfigError, match=r"concentration\.nboot"):
        checked("concentration", lambda: ConcentrationSettings.from_config({"nboot": 3}))
    with pytest.raises(ConfigError, match=r"figures\.deviation"):
        checked("figures", lambda: FigureSettings.from_config({"deviation": "spectral"}))


def test_spectrum_settings_defaults_and_errors():
    assert SpectrumSettings.from_config(None).depths == DEFAULT_DEPTHS
    assert SpectrumSettings.from_config({"depths": [10, 1, 10]}).depths == (1, 10)
    with pytest.raises(ConfigError, match=r"spectrum\.depths"):
        checked("spectrum", lambda: SpectrumSettings.from_config({"depths": [0, 5]}))


def test_concentration_per_run_store_layout():
    rng = np.random.default_rng(0)
    a = 0.1 * rng.standard_normal((2, 3, 4, 4))
    kernels = xr.DataArray(
        (np.eye(4) + a + a.transpose(0, 1, 3, 2)).astype(np.float32),
        dims=("base_width", "draw", "i", "j"),
        coords={"base_width": [8, 16], "draw": [0, 1, 2], "i": np.arange(4), "j": np.arange(4)},
    )
    limit = xr.DataArray(np.eye(4), dims=("i", "j"), coords={"i": np.arange(4), "j": np.arange(4)})
    out = concentration(kernels, limit)
    assert out.op_abs.dims == ("base_width", "draw") and out.lambda_min.dims == ("base_width", "draw")
    assert float(out.limit_cond) == pytest.approx(1.0)
    np.testing.assert_allclose(out.op_abs, np.abs(np.linalg.eigvalsh(kernels.values - np.eye(4))).max(-1), rtol=1e-6)
    assert (out.dead_inputs == 0).all()
    dead = kernels.copy(data=kernels.values.copy())
    dead.values[1, 2, 3, :] = dead.values[1, 2, :, 3] = 0.0  # input 3 of draw 2 at m = 16: no path reaches it
    counts = concentration(dead, limit).dead_inputs
    assert counts.sel(base_width=16, draw=2) == 1 and int(counts.sum()) == 1


def test_spectrum_store_drops_undefined_variables_and_singular_depths():
    ds = xr.Dataset(
        {
            "cond": ("depth", [np.inf, 4.0, 3.5]),
            "inv_cos_relerr_max": ("depth", [np.inf, np.inf, np.inf]),
            "pred_cond": 3.0,
        },
        coords={"depth": [1, 2, 3]},
    )
    out = finite_part(ds, logging.getLogger("test"))
    assert "inv_cos_relerr_max" not in out and out.depth.values.tolist() == [2, 3]
    both = ds.assign(lambda_min=("depth", [1.0, np.inf, np.inf]), lambda_max=("depth", [np.inf, 1.0, 1.0]))
    with pytest.raises(ValueError, match="no depth"):
        finite_part(both, logging.getLogger("test"))
