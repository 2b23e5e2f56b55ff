"""Stage sampling: K(theta_s) for one block of draw ids s at one base width, as one store.

The JAX persistent compilation cache is used when ``JAX_COMPILATION_CACHE_DIR`` is set (the
Snakefile sets it from config/config.yaml ``jax_cache_dir``), so jobs sharing a compiled shape load it
instead of recompiling.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ..architecture import Architecture
from ..store import matrix_coords, open_store, provenance, write_store
from . import parser, setup_logging


def draw_range(text: str) -> tuple[int, int]:
    """``start:stop`` -> (start, stop) with 0 <= start < stop."""
    try:
        start, stop = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--draws must be start:stop, got {text!r}") from None
    if not 0 <= start < stop:
        raise argparse.ArgumentTypeError(f"--draws needs 0 <= start < stop, got {text!r}")
    return start, stop


def job_architecture(cfg: dict) -> Architecture:
    """The :class:`Architecture` of a draw-block job's params (RunConfig.sampling_params)."""
    from ..config import activation_from_config

    ranks = None if cfg.get("ranks") is None else tuple(cfg["ranks"])
    widths = tuple(int(w) for w in cfg["layer_widths"])
    return Architecture(widths, activation_from_config(cfg["activation"]), ranks, cfg.get("init", "eoc"))


def draw_block_parser(description: str) -> argparse.ArgumentParser:
    """:func:`parser` plus the arguments of a job over one block of draws: --dataset, --draws, --run."""
    cli = parser(description)
    cli.add_argument("--dataset", required=True, help="dataset store (variable x)")
    cli.add_argument("--draws", type=draw_range, required=True, help="draw ids start:stop")
    cli.add_argument("--run", default="", help="run id (recorded in the attributes)")
    return cli


def main(argv: Sequence[str] | None = None) -> None:
    """Sample draws start..stop-1 of the configuration ``--config`` on the inputs of ``--dataset``."""
    args = draw_block_parser(__doc__).parse_args(argv)
    log = setup_logging()
    cfg = args.config
    sampler = cfg["sampler"]

    import jax

    if sampler["dtype"] == "float64":
        jax.config.update("jax_enable_x64", True)
    from .. import samplers

    log.info("JAX compilation cache: %s", jax.config.jax_compilation_cache_dir or "off")
    x = open_store(args.dataset)["x"].values
    arch = job_architecture(cfg)
    activation, layer_widths, ranks, init = arch.activation, list(arch.widths), cfg.get("ranks"), arch.init
    n, out_dim = x.shape[0], layer_widths[-1]
    start, stop = args.draws
    method = samplers.choose_method(arch, n) if sampler["method"] == "auto" else sampler["method"]
    log.info(
        "run %s: %s, widths %s, n=%d, draws %d..%d, method %s, dtype %s",
        args.run, activation.name, layer_widths, n, start, stop - 1, method, sampler["dtype"],
    )  # fmt: skip

    def progress(done: int, total: int, seconds: float) -> None:
        log.info("draws %d/%d done, %.1f draws/s (%.2f s)", done, total, done / max(seconds, 1e-9), seconds)

    def sample(ids: np.ndarray) -> np.ndarray:
        return samplers.sample_kernels(
            x, activation, layer_widths, ids, sampler["seed"], method, sampler["dtype"],
            ranks=ranks, init=init, progress=progress,
        )  # fmt: skip

    # Draw s does not depend on the split (samplers), so the first draw pays the compilation and
    # the rest time the compiled draw alone.
    began = time.perf_counter()
    first = sample(np.arange(start, start + 1))
    warm = time.perf_counter()
    rest = sample(np.arange(start + 1, stop))
    done = time.perf_counter()
    wall = done - began
    kernels = np.concatenate([first, rest])
    per_draw = (done - warm) / (stop - start - 1) if stop - start > 1 else wall
    log.info("sampled %d draws in %.2f s (%.4f s per compiled draw)", stop - start, wall, per_draw)
    ds = xr.Dataset(
        {"K": (("draw", "i", "j"), kernels)},
        coords={"draw": np.arange(start, stop, dtype=np.int64), **matrix_coords(n, out_dim)},
    )
    attrs = provenance(
        cfg,
        stage="sampling",
        run=args.run,
        base_width=cfg["base_width"],
        layer_widths=layer_widths,
        draw_start=start,
        draw_stop=stop,
        seed=sampler["seed"],
        dtype=sampler["dtype"],
        sampler_method=method,
        ranks=ranks,
        init=init,
        n_params=arch.n_params,
        wall_time_s=wall,
        seconds_per_draw=per_draw,
    )
    write_store(ds, args.output, attrs)
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
