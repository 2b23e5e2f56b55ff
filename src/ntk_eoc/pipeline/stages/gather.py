"""Stage gather: the draw-block stores of one run into one (base_width, draw, i, j) store."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ...storage.store import open_store, provenance, write_store
from ..specs import GatherSpec
from . import parser, setup_logging


def gather(blocks: Sequence[xr.Dataset]) -> xr.Dataset:
    """Concatenate blocks by draw per base width and stack the widths.

    Every base width must hold the same draw ids 0..N-1, each once; ValueError otherwise. Per base width
    also ``n_params`` (the network's parameter count) and ``seconds_per_draw`` (the blocks' compiled-draw
    times, weighted by their draws).
    """
    by_width: dict[int, list[xr.Dataset]] = {}
    for block in blocks:
        by_width.setdefault(int(block.attrs["base_width"]), []).append(block)
    widths = sorted(by_width)
    stacks, layer_widths, n_params, per_draw = [], [], [], []
    for width in widths:
        parts = sorted(by_width[width], key=lambda b: int(b.attrs["draw_start"]))
        kernel = xr.concat([p["K"].load() for p in parts], dim="draw")
        draws = kernel["draw"].values
        if not np.array_equal(draws, np.arange(draws.size)):
            raise ValueError(
                f"base width {width}: draw ids must be 0..{draws.size - 1} once each, got {draws.tolist()}"
            )
        stacks.append(kernel)
        layer_widths.append(parts[0].attrs["layer_widths"])
        n_params.append(int(parts[0].attrs["n_params"]))
        counts = [int(p.attrs["draw_stop"]) - int(p.attrs["draw_start"]) for p in parts]
        times = [float(p.attrs["seconds_per_draw"]) for p in parts]
        per_draw.append(float(np.dot(counts, times) / sum(counts)))
    sizes = {s.sizes["draw"] for s in stacks}
    if len(sizes) != 1:
        raise ValueError(f"base widths {widths} hold different numbers of draws: {sorted(sizes)}")
    kernels = xr.concat(stacks, dim=xr.DataArray(np.asarray(widths, dtype=np.int64), dims="base_width"))
    ds = kernels.to_dataset(name="K")
    ds["layer_widths"] = (("base_width", "level"), np.asarray(layer_widths, dtype=np.int64))
    ds["n_params"] = ("base_width", np.asarray(n_params, dtype=np.int64))
    ds["seconds_per_draw"] = ("base_width", np.asarray(per_draw, dtype=np.float64))
    return ds.assign_coords(level=np.arange(ds.sizes["level"], dtype=np.int64))


def main(argv: Sequence[str] | None = None) -> None:
    """Gather the positional block stores into ``--output``."""
    cli = parser(__doc__, GatherSpec, "output")
    cli.add_argument("blocks", nargs="+", help="sample stores of the run")
    args = cli.parse_args(argv)
    spec: GatherSpec = args.spec
    log = setup_logging()
    began = time.perf_counter()
    blocks = [open_store(path) for path in args.blocks]
    ds = gather(blocks)
    block = max(int(b.attrs["draw_stop"]) - int(b.attrs["draw_start"]) for b in blocks)
    methods = {str(int(b.attrs["base_width"])): b.attrs["sampler_method"] for b in blocks}
    log.info("run %s: K %s from %d blocks", spec.run, dict(ds["K"].sizes), len(blocks))
    attrs = provenance(
        spec.config,
        stage="gather",
        experiment=spec.experiment,
        run=spec.run,
        axes=spec.axes,
        dataset_id=spec.dataset_id,
        limit_id=spec.limit_id,
        dtype=str(ds["K"].dtype),
        sampler_method=methods,
        device=blocks[0].attrs["device"],
        seed=blocks[0].attrs["seed"],
        wall_time_s=time.perf_counter() - began,
        sampling_wall_time_s=sum(float(b.attrs["wall_time_s"]) for b in blocks),
    )
    n_ij = ds.sizes["i"]
    write_store(ds, args.output, attrs, chunks={"K": (1, min(block, ds.sizes["draw"]), n_ij, n_ij)})
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
