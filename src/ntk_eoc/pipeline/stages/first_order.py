"""Stage first_order: the first-order model of one network's NTK (SCIENCE §6.1) at base width 1.

Reads the dataset store and writes one store: ``covariance`` and ``covariance_se`` (pair, pair_b) over the
upper-triangle entries (``pair_i``, ``pair_j``), ``mean_shift`` and ``mean_shift_se`` (p, q), ``K_inf``
(p, q), and ``op_rel``, ``fro_rel``, ``max_rel``, ``op_abs``, ``fro_abs``, ``max_abs`` (model_draw): draws
of the norms of K - K_inf under the Gaussian law N(0, Cov), all for hidden widths m_k / m. For the run's
schedules (widths k^2 m, k m, m) the model at base width m is this one with covariance and mean shift
divided by m and every norm by sqrt(m), exactly. Compiled programs go through the key-bound compilation
cache (:mod:`ntk_eoc.pipeline.program_cache`), so networks of one depth share them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ...analysis.names import DEVIATION_VARS
from .. import program_cache
from ..specs import FirstOrderSpec
from . import parser, setup_logging


def main(argv: Sequence[str] | None = None) -> None:
    """Write the first-order store of the network of ``--spec``."""
    from ...math.first_order import first_order_kernel, predicted_deviations
    from ...storage.store import open_store, provenance, write_store

    args = parser(__doc__, FirstOrderSpec, "dataset", "output").parse_args(argv)
    spec: FirstOrderSpec = args.spec
    log = setup_logging()
    log.info("JAX compilation cache: %s", program_cache.install())
    began = time.perf_counter()
    x = open_store(args.dataset)["x"].values
    model = first_order_kernel(spec.activation, x, spec.hidden_widths, samples=spec.samples, seed=spec.seed)
    draws = predicted_deviations(model, draws=spec.draws, seed=spec.seed)
    n = x.shape[0]
    points = np.arange(n, dtype=np.int64)
    ds = xr.Dataset(
        {
            "covariance": (("pair", "pair_b"), model.covariance),
            "covariance_se": (("pair", "pair_b"), model.covariance_se),
            "mean_shift": (("p", "q"), model.mean_shift),
            "mean_shift_se": (("p", "q"), model.mean_shift_se),
            "K_inf": (("p", "q"), model.limit),
            **{name: (("model_draw",), draws[name]) for name in DEVIATION_VARS},
        },
        coords={
            "pair": np.arange(model.rows.size, dtype=np.int64),
            "pair_b": np.arange(model.rows.size, dtype=np.int64),
            "pair_i": ("pair", model.rows.astype(np.int64)),
            "pair_j": ("pair", model.cols.astype(np.int64)),
            "p": points,
            "q": points,
            "model_draw": np.arange(spec.draws, dtype=np.int64),
        },
    )
    wall = time.perf_counter() - began
    log.info(
        "%s, hidden widths / m = %s: mean op_rel %.4g / sqrt(m), first-order model of %d neurons per layer in "
        "%.1f s",
        spec.activation.name, list(spec.hidden_widths), float(draws["op_rel"].mean()), spec.samples, wall,
    )  # fmt: skip
    attrs = provenance(spec.config(), stage="first_order", key=spec.key, dtype="float64", wall_time_s=wall)
    write_store(ds, args.output, attrs)
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
