"""Stage dataset: generate the inputs x (:mod:`ntk_eoc.math.datasets`), refuse coinciding (or, for
activations with a parity, opposite) points naming them, and write the inputs as a store."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..specs import DatasetSpec
from . import parser, setup_logging


def main(argv: Sequence[str] | None = None) -> None:
    """Write ``x`` (point, feature) float64 for the dataset of ``--spec``."""
    import numpy as np
    import xarray as xr

    from ...storage.store import provenance, write_store

    args = parser(__doc__, DatasetSpec, "output").parse_args(argv)
    log = setup_logging()
    start = time.perf_counter()
    from ...math.datasets import check_distinct

    dataset = args.spec.dataset
    x = dataset.make()
    check_distinct(x)  # duplicates; opposite points are refused at parse time where they matter
    n, m0 = x.shape
    log.info("dataset %s: n=%d m_0=%d, mean ||x||^2 = %.6g", dataset.name, n, m0, np.mean(np.sum(x**2, 1)))
    ds = xr.Dataset(
        {"x": (("point", "feature"), x)},
        coords={"point": np.arange(n, dtype=np.int64), "feature": np.arange(m0, dtype=np.int64)},
    )
    attrs = provenance(dataset.config(), stage="dataset", wall_time_s=time.perf_counter() - start)
    write_store(ds, args.output, attrs)
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
