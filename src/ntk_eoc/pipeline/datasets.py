"""Stage datasets: generate the inputs x (:mod:`ntk_eoc.datasets`) and write them as a store."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ..datasets import make_dataset
from ..store import provenance, write_store
from . import parser, setup_logging


def main(argv: Sequence[str] | None = None) -> None:
    """Write ``x`` (point, feature) float64 for the dataset config ``--config``."""
    args = parser(__doc__).parse_args(argv)
    log = setup_logging()
    start = time.perf_counter()
    params = {k: v for k, v in args.config.items() if k != "name"}
    x = make_dataset(args.config["name"], **params)
    n, m0 = x.shape
    log.info("dataset %s: n=%d m_0=%d, mean ||x||^2 = %.6g", args.config["name"], n, m0, np.mean(np.sum(x**2, 1)))
    ds = xr.Dataset(
        {"x": (("point", "feature"), x)},
        coords={"point": np.arange(n, dtype=np.int64), "feature": np.arange(m0, dtype=np.int64)},
    )
    attrs = provenance(args.config, stage="datasets", wall_time_s=time.perf_counter() - start)
    write_store(ds, args.output, attrs)
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
