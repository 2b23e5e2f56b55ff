"""Stage sample: K(theta_s) for one block of draw ids s of one network, as one store.

The JAX persistent compilation cache is used when ``JAX_COMPILATION_CACHE_DIR`` is set (the workflow
sets it from config/config.yaml ``jax_cache_dir``), so jobs sharing a compiled shape load it instead
of recompiling.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from ..specs import MinEigenSpec, SampleSpec
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


def draw_block_parser(description: str, spec: type[SampleSpec | MinEigenSpec]) -> argparse.ArgumentParser:
    """The arguments of a job over one block of draws: --spec, --dataset, --draws start:stop, --output."""
    cli = parser(description, spec, "dataset", "output")
    cli.add_argument("--draws", type=draw_range, required=True, help="draw ids start:stop")
    return cli


def main(argv: Sequence[str] | None = None) -> None:
    """Sample draws start..stop-1 of the network of ``--spec`` on the inputs of ``--dataset``."""
    args = draw_block_parser(__doc__, SampleSpec).parse_args(argv)
    log = setup_logging()
    spec: SampleSpec = args.spec

    import jax

    if spec.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import numpy as np
    import xarray as xr

    from ...math.cost import resolve_method
    from ...math.samplers import sample_kernels
    from ...storage.store import matrix_coords, open_store, provenance, write_store

    log.info("JAX compilation cache: %s", jax.config.jax_compilation_cache_dir or "off")
    x = open_store(args.dataset)["x"].values
    arch = spec.architecture
    n, out_dim = x.shape[0], arch.widths[-1]
    start, stop = args.draws
    method = resolve_method(spec.method, arch, n)
    log.info(
        "run %s: %s, widths %s, n=%d, draws %d..%d, method %s, dtype %s",
        spec.run, arch.activation.name, list(arch.widths), n, start, stop - 1, method, spec.dtype,
    )  # fmt: skip

    def progress(done: int, total: int, seconds: float) -> None:
        log.info("draws %d/%d done, %.1f draws/s (%.2f s)", done, total, done / max(seconds, 1e-9), seconds)

    def sample(ids: np.ndarray) -> np.ndarray:
        return sample_kernels(x, arch, draws=ids, seed=spec.seed, method=method, dtype=spec.dtype, progress=progress)

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
        spec.config(),
        stage="sample",
        run=spec.run,
        base_width=spec.base_width,
        layer_widths=list(arch.widths),
        draw_start=start,
        draw_stop=stop,
        seed=spec.seed,
        dtype=str(spec.dtype),
        sampler_method=str(method),
        ranks=arch.config()["ranks"],
        init=str(arch.init),
        n_params=arch.n_params,
        wall_time_s=wall,
        seconds_per_draw=per_draw,
    )
    write_store(ds, args.output, attrs)
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
