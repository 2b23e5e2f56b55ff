"""Stage concentration: per-draw ||K(theta) - K_inf|| and extreme eigenvalues of K(theta) for one run.

Reads the run's sample stores (K over base_width, draw, i, j, put side by side by
:func:`ntk_eoc.storage.run_kernels.kernels_of_run`) and its limit store (K_inf over i, j), and writes one
store over (base_width, draw), float64:
``op_abs, fro_abs, max_abs, op_rel, fro_rel, max_rel`` (:func:`ntk_eoc.analysis.stats.deviations`),
``lambda_min, lambda_max`` of K(theta) (:func:`ntk_eoc.analysis.spectrum.eigen_summary`), ``dead_inputs``
(the number of zero diagonal entries K_ii = 0 of each draw: an input no path reaches, SCIENCE §8.7) and the
scalars
``limit_lambda_min, limit_lambda_max, limit_cond`` of K_inf, and the cost per base width from the sample
stores (``n_params``, ``seconds_per_draw``). The condition number of K(theta) is not
stored: it is lambda_max / lambda_min, infinite when rounding makes lambda_min <= 0.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ...analysis.spectrum import eigen_summary
from ...analysis.stats import deviations
from ...storage.invariants import check_kernel
from ...storage.run_kernels import kernels_of_run
from ...storage.store import open_store, provenance, write_store
from ..specs import ConcentrationSpec
from . import parser, setup_logging


def concentration(kernels: xr.DataArray, limit: xr.DataArray) -> xr.Dataset:
    """Deviations and eigenvalue extremes of every draw, one base width at a time (bounded memory).

    Args:
        kernels: K(theta) over (base_width, draw, i, j).
        limit: K_inf over (i, j).
    """
    parts = []
    for width in kernels["base_width"].values:
        k = kernels.sel(base_width=width).load()
        eig = eigen_summary(k)
        dead = (np.diagonal(k.transpose(..., "i", "j").values, axis1=-2, axis2=-1) == 0).sum(axis=-1)
        dev = deviations(k, limit).assign(lambda_min=eig.lambda_min, lambda_max=eig.lambda_max)
        parts.append(dev.assign(dead_inputs=(eig.lambda_min.dims, dead.astype(np.int64))))
    out = xr.concat(parts, dim="base_width", data_vars="all", coords="different", compat="equals")
    ref = eigen_summary(limit)
    out["limit_lambda_min"], out["limit_lambda_max"], out["limit_cond"] = ref.lambda_min, ref.lambda_max, ref.cond
    return out.drop_vars([c for c in out.coords if c not in ("base_width", "draw")])


def main(argv: Sequence[str] | None = None) -> None:
    """Write the concentration store of one run to ``--output``."""
    cli = parser(__doc__, ConcentrationSpec, "limit", "output")
    cli.add_argument("--samples", nargs="+", required=True, help="every sample store of the run")
    args = cli.parse_args(argv)
    spec: ConcentrationSpec = args.spec
    log = setup_logging()
    began = time.perf_counter()
    limit = open_store(args.limit)["K_inf"].load()
    check_kernel(limit, args.limit, name="K_inf", positive=True)
    blocks = [open_store(path) for path in args.samples]
    for path, block in zip(args.samples, blocks, strict=True):  # name the input store that breaks them
        check_kernel(block["K"], path, reference=np.diag(limit.values))
    kernels = kernels_of_run(blocks, spec.config["base_widths"], spec.config["draws"])
    ds = concentration(kernels["K"], limit)
    ds["n_params"], ds["seconds_per_draw"] = kernels["n_params"], kernels["seconds_per_draw"]
    for width in ds.base_width.values:
        one = ds.sel(base_width=width)
        log.info(
            "m=%d: mean op_rel %.4g, mean lambda_min %.4g (K_inf %.4g)",
            width,
            float(one.op_rel.mean()),
            float(one.lambda_min.mean()),
            float(ds.limit_lambda_min),
        )
    attrs = provenance(
        spec.config,
        stage="concentration",
        key=spec.key,
        limit_key=spec.limit_key,
        dtype="float64",
        wall_time_s=time.perf_counter() - began,
    )
    write_store(ds.assign_coords(base_width=ds.base_width.astype(np.int64)), args.output, attrs)
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
