"""Stage fluctuations: the finite-width fluctuations of one run's kernels beside the product-form law.

Reads the run's sample stores (K over base_width, draw, i, j) and writes one store over base_width with
:func:`ntk_eoc.analysis.fluctuations.fluctuation_summary`: the measured V_diag = Var(K_ii) / E[K_ii]^2 and
V_off (BCa bootstrap intervals over draw ids, resampled jointly across base widths), the laws' predictions
``v_diag_pred`` (product form) and ``v_dsum_pred`` (independent-layer sum), ``beta`` = sum_k 1/m_k, and
``v_diag_ratio`` / ``v_dsum_ratio`` = measured / predicted.   [SCIENCE §6]
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..specs import FLUCTUATION_INTERVAL, FluctuationsSpec
from . import parser, setup_logging


def main(argv: Sequence[str] | None = None) -> None:
    """Write the fluctuation store of the run of ``--spec`` from its sample stores."""
    from ...analysis.bootstrap import RANDOM_NUMBERS
    from ...analysis.fluctuations import fluctuation_summary, measurable
    from ...storage.run_kernels import kernels_of_run
    from ...storage.store import open_store, provenance, write_store

    cli = parser(__doc__, FluctuationsSpec, "output")
    cli.add_argument("--samples", nargs="+", required=True, help="every sample store of the run")
    args = cli.parse_args(argv)
    spec: FluctuationsSpec = args.spec
    log = setup_logging()
    if spec.interval != FLUCTUATION_INTERVAL:
        raise SystemExit(f"fluctuations: interval={spec.interval!r}: this version computes BCa intervals ('bca')")
    began = time.perf_counter()
    blocks = [open_store(p) for p in args.samples]
    kernels = kernels_of_run(blocks, spec.config["base_widths"], spec.config["draws"])["K"]
    kernels = kernels.assign_coords(activation=spec.label, schedule=spec.schedule, depth=spec.depth)
    ok = measurable(kernels.transpose("base_width", "draw", "i", "j")).values
    if not ok.all():
        dead = kernels.base_width.values[~ok].tolist()
        log.warning("V_diag undefined at base widths %s (a diagonal entry is 0 in every draw): left out", dead)
        kernels = kernels.isel(base_width=ok)
    ds = fluctuation_summary(
        kernels, output_dim=spec.output_dim, n_boot=spec.n_boot, seed=spec.boot_seed, confidence=spec.confidence,
        activations={spec.label: spec.activation},
    )  # fmt: skip
    for width in ds.base_width.values:
        one = ds.sel(base_width=width)
        log.info(
            "m=%d: V_diag %.4g [%.4g, %.4g], product form %.4g (ratio %.3f), V_dsum %.4g, beta %.3g", width,
            float(one.v_diag), float(one.v_diag_ci_low), float(one.v_diag_ci_high), float(one.v_diag_pred),
            float(one.v_diag_ratio), float(one.v_dsum_pred), float(one.beta),
        )  # fmt: skip
    attrs = provenance(
        spec.config, stage="fluctuations", key=spec.key, random_numbers=RANDOM_NUMBERS,
        wall_time_s=time.perf_counter() - began,
    )  # fmt: skip
    ds.attrs = {}
    write_store(ds.drop_vars([c for c in ds.coords if c not in ("base_width", "draw") and ds[c].ndim > 0]), args.output,
                attrs)  # fmt: skip
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
