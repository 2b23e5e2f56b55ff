"""Stage min_eigen_summary: the table, figure and claims of a min_eigen experiment, from all its stores.

Reads every ``min_eigen/<run>/m~<w>/draws_<a>-<b>.zarr`` store (:mod:`.min_eigen`) and writes
``tables/min_eigen.csv`` (:func:`ntk_eoc.analysis.min_eigen.summary_table`), ``figures/min_eigen.{png,pdf}``
(:func:`ntk_eoc.analysis.plots.plot_min_eigen`) and ``tables/min_eigen_claims.{csv,md}``
(:func:`ntk_eoc.analysis.min_eigen.claims_table`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ...analysis.claims.table import write_claims
from ...analysis.min_eigen import claims_markdown, claims_table, summary_table
from ...storage.store import open_store
from ...storage.view_manifest import write_view_manifest
from ..specs import MinEigenSummarySpec
from . import parser, setup_logging


def main(argv: Sequence[str] | None = None) -> None:
    """Table, claims and figure of the min_eigen stores ``--stores``, written to the paths the spec names."""
    from ...analysis import plots

    cli = parser(__doc__, MinEigenSummarySpec)
    cli.add_argument("--stores", nargs="+", required=True, help="every min_eigen store of the experiment")
    cli.add_argument("--configs", nargs="+", required=True, help="the view's run configs (listed in the manifest)")
    cli.add_argument("--manifest", required=True, help="the view's MANIFEST.json, written last")
    args = cli.parse_args(argv)
    log = setup_logging()
    began = time.perf_counter()
    settings = args.spec.settings
    paths = {name: Path(path) for name, path in args.spec.files}
    stores = [open_store(p).load() for p in args.stores]
    run_of = {}
    for run_id, key in args.spec.runs:
        run_of.setdefault(key, run_id)
    for ds in stores:  # shared stores are named by content; the table names the experiment's runs
        ds.attrs["run"] = run_of[ds.attrs["key"]]
    table = summary_table(stores, settings.confidence)
    claims = claims_table(table, settings.confidence)
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(paths["table"], index=False, float_format="%.9g")
    text = claims_markdown(claims)
    write_claims(claims, paths["claims_csv"], paths["claims_md"], text=text)
    log.info("claims:\n%s", text)
    fig = plots.plot_min_eigen(table)
    plots.save_figure(fig, paths["png"].with_suffix(""), dpi=settings.dpi)
    write_view_manifest(args.manifest, [*args.configs, *paths.values()], "min_eigen_summary", args.spec.view)
    log.info("min_eigen summary of %d stores (%d rows) in %.1f s", len(stores), len(table), time.perf_counter() - began)


if __name__ == "__main__":
    main()
