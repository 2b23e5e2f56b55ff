"""Stage limit: K_inf and the per-layer rho_k, 1 - rho_k, Theta_k of one (dataset, activation, depth,
output_dim), float64 (:func:`ntk_eoc.limit_layers`)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ...storage.store import matrix_coords, open_store, provenance, write_store
from ..specs import LimitSpec
from . import parser, setup_logging


def main(argv: Sequence[str] | None = None) -> None:
    """Write K_inf (i, j), rho / one_minus_rho / theta (layer, p, q) and nngp (p, q)."""
    args = parser(__doc__, LimitSpec, "dataset", "output").parse_args(argv)
    log = setup_logging()
    from ...math.limit import limit_layers

    spec: LimitSpec = args.spec
    began = time.perf_counter()
    x = open_store(args.dataset)["x"].values
    activation, depth, out_dim = spec.activation, spec.depth, spec.output_dim
    factorized = None if spec.factorized is None else list(spec.factorized)
    layers = limit_layers(x, activation, depth, out_dim, factorized=factorized)
    n = x.shape[0]
    points = np.arange(n, dtype=np.int64)
    ds = xr.Dataset(
        {
            "K_inf": (("i", "j"), layers.ntk),
            "rho": (("layer", "p", "q"), layers.rho),
            "one_minus_rho": (("layer", "p", "q"), layers.one_minus_rho),
            "theta": (("layer", "p", "q"), layers.theta),
            "nngp": (("p", "q"), layers.nngp),
        },
        coords={
            "layer": np.arange(1, depth + 1, dtype=np.int64),
            "p": points,
            "q": points,
            **matrix_coords(n, out_dim),
        },
    )
    wall = time.perf_counter() - began
    log.info("%s depth %d m_l %d: K_inf %s in %.3f s", activation.name, depth, out_dim, layers.ntk.shape, wall)
    attrs = provenance(
        spec.config(),
        stage="limit",
        key=spec.key,
        dtype="float64",
        activation_ab=[activation.a, activation.b],
        wall_time_s=wall,
    )
    write_store(ds, args.output, attrs)
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
