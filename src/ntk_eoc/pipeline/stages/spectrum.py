"""Stage spectrum: the K_inf spectrum against depth for one (dataset, activation), one recursion.

Writes ``spectrum/<dataset>/<act>__depths~<span>.zarr``: :func:`ntk_eoc.analysis.spectrum.limit_spectrum`
over ``depth`` (and ``eig``) for the depths of the ``spectrum`` config section
(:class:`ntk_eoc.pipeline.settings.SpectrumSettings`), m_l = 1 (an output dimension m_l only repeats
each eigenvalue m_l times).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ...analysis.spectrum import limit_spectrum
from ...storage.store import open_store, provenance, write_store
from ..specs import SpectrumSpec
from . import parser, setup_logging

__all__ = ["finite_part"]


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


def main(argv: Sequence[str] | None = None) -> None:
    """Write the limit spectrum of ``--dataset`` for the activation and depths of ``--config``."""
    args = parser(__doc__, SpectrumSpec, "dataset", "output").parse_args(argv)
    log = setup_logging()
    spec: SpectrumSpec = args.spec
    began = time.perf_counter()
    x = open_store(args.dataset)["x"].values
    activation = spec.activation

    def progress(layer: int, total: int) -> None:
        seconds = time.perf_counter() - began
        log.info("depth %d/%d, %.0f s left", layer, total, seconds / layer * (total - layer))

    ds = limit_spectrum(x, activation, list(spec.depths), progress=progress)
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
        spec.config(),
        stage="spectrum",
        key=spec.key,
        dtype="float64",
        activation_ab=[activation.a, activation.b],
        wall_time_s=time.perf_counter() - began,
    )
    write_store(ds, args.output, attrs)
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
