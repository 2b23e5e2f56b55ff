"""Stage spectrum: the K_inf spectrum against depth for one (dataset, activation), one recursion.

Writes ``spectrum/<spectrum_id>.zarr``: :func:`ntk_eoc.spectrum.limit_spectrum` over ``depth`` (and
``eig``) for the depths of the ``spectrum`` config section, m_l = 1 (an output dimension m_l only repeats
each eigenvalue m_l times). The section is validated here:

.. code-block:: yaml

    spectrum:
      depths: [1, 2, 5, 10, 100, 1000, 10000]   # depths l >= 1 at which K_inf is analysed
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..config import ConfigError, RunConfig, activation_from_config, config_hash
from ..spectrum import limit_spectrum
from ..store import open_store, provenance, write_store
from . import parser, setup_logging

__all__ = [
    "DEFAULT_DEPTHS",
    "dataset_input",
    "finite_part",
    "params_input",
    "spectra",
    "spectrum_config",
    "spectrum_id",
    "spectrum_params",
]

# 1 to 10^4 on a roughly logarithmic grid: the approach to the limits closes like log(l) / l.
DEFAULT_DEPTHS = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def spectrum_config(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """The validated ``spectrum`` section with defaults filled in; ConfigError otherwise."""
    section = dict(section or {})
    unknown = sorted(set(section) - {"depths"})
    if unknown:
        raise ConfigError(f"spectrum.{unknown[0]}", section[unknown[0]], "unknown key; allowed: depths")
    depths = section.get("depths", list(DEFAULT_DEPTHS))
    if isinstance(depths, (str, bytes)) or not isinstance(depths, Sequence) or not depths:
        raise ConfigError("spectrum.depths", depths, "must be a non-empty list of integers >= 1")
    if any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in depths):
        raise ConfigError("spectrum.depths", depths, "must be a non-empty list of integers >= 1")
    return {"depths": sorted({int(d) for d in depths})}


def spectrum_params(run: RunConfig) -> dict[str, Any]:
    """Everything one spectrum store depends on."""
    return {"activation": run.activation, **spectrum_config(run.analysis.get("spectrum"))}


def spectrum_id(run: RunConfig) -> str:
    """``<dataset_id>__<activation>-<hash>``: shared by all runs with the same dataset, activation, depths."""
    return f"{run.dataset_id}__{run.activation['name']}-{config_hash(spectrum_params(run))}"


def finite_part(ds: xr.Dataset, log: logging.Logger) -> xr.Dataset:
    """Drop, loudly, what the store cannot hold: variables infinite at every depth (the inverse-cosine
    constant at Delta = 0), then depths with an infinite value left (a singular K_inf, e.g. depth 1
    with n > m_0, or coincident inputs). ValueError if no depth is left."""
    per_depth = [v for v in ds.data_vars if "depth" in ds[v].dims]
    finite = {
        v: np.isfinite(ds[v].transpose("depth", ...).values).reshape(ds.sizes["depth"], -1).all(1) for v in per_depth
    }
    dead = [v for v, ok in finite.items() if not ok.any()]
    if dead:
        log.warning("dropping variables undefined at every depth: %s", dead)
    keep = np.logical_and.reduce([ok for v, ok in finite.items() if v not in dead])
    if not keep.all():
        log.warning(
            "dropping depths %s: K_inf is singular or an entry is infinite there", ds.depth.values[~keep].tolist()
        )
    if not keep.any():
        raise ValueError("limit spectrum: no depth with finite values")
    return ds.drop_vars(dead).isel(depth=keep)


def spectra(runs: Mapping[str, RunConfig]) -> dict[str, RunConfig]:
    """spectrum id -> the first run that needs it."""
    out: dict[str, RunConfig] = {}
    for run in runs.values():
        out.setdefault(spectrum_id(run), run)
    return out


def dataset_input(by_id: Mapping[str, RunConfig], results: str) -> Callable[[Any], str]:
    """Input function of the spectrum rule: the dataset store of ``wildcards.spectrum_id``."""
    return lambda wildcards: f"{results}/datasets/{by_id[wildcards.spectrum_id].dataset_id}.zarr"


def params_input(by_id: Mapping[str, RunConfig]) -> Callable[[Any], str]:
    """Params function of the spectrum rule: the JSON of :func:`spectrum_params`."""
    return lambda wildcards: json.dumps(spectrum_params(by_id[wildcards.spectrum_id]), sort_keys=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Write the limit spectrum of ``--dataset`` for the activation and depths of ``--config``."""
    cli = parser(__doc__)
    cli.add_argument("--dataset", required=True, help="dataset store (variable x)")
    args = cli.parse_args(argv)
    log = setup_logging()
    began = time.perf_counter()
    section = {k: v for k, v in args.config.items() if k != "activation"}
    cfg = {"activation": args.config["activation"], **spectrum_config(section)}
    x = open_store(args.dataset)["x"].values
    activation = activation_from_config(cfg["activation"])
    ds = limit_spectrum(x, activation, cfg["depths"])
    deepest = ds.isel(depth=-1)
    log.info(
        "%s: l=%d cond %.6g (predicted limit %.6g), Theta_l/l off-diagonal %.6g (1/4)",
        activation.name,
        int(deepest.depth),
        float(deepest.cond),
        float(ds.pred_cond),
        float(deepest.theta_offdiag_scaled_mean),
    )
    ds = finite_part(ds, log)
    ds = ds.assign_coords(activation=str(activation.name), delta=float(activation.delta), input_dim=x.shape[1])
    attrs = provenance(
        cfg,
        stage="spectrum",
        dtype="float64",
        activation_ab=[activation.a, activation.b],
        wall_time_s=time.perf_counter() - began,
    )
    write_store(ds, args.output, attrs)
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
