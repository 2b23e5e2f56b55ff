"""Stage sample: K(theta_s) for one block of draw ids s of one network, as one store.

The JAX persistent compilation cache is used when ``JAX_COMPILATION_CACHE_DIR`` is set (the workflow
sets it from config/config.yaml ``jax_cache_dir``), so jobs sharing a compiled shape load it instead
of recompiling; its entries are bound to their keys (:mod:`ntk_eoc.pipeline.program_cache`).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

import numpy as np

from ...math.architecture import Architecture
from ...math.cost import Method
from .. import program_cache
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


def sample_width(
    x: np.ndarray,
    arch: Architecture,
    method: Method,
    routes: tuple[bool, ...],
    spec: SampleSpec,
    draws: tuple[int, int],
    log: logging.Logger,
):
    """(K of draws start..stop-1, seconds per compiled draw, seconds of compilation) of one architecture,
    sampled with the method and per-map routes the plan chose.

    Draw s does not depend on the split (ntk_eoc.math.samplers), so the first draw pays the compilation
    alone and the rest time the compiled draw."""
    from ...math.samplers import sample_kernels

    (start, stop), width = draws, arch.widths[1]
    log.info("%s, widths %s: draws %d..%d, method %s, %s", arch.activation.name, list(arch.widths), start, stop - 1,
             method, spec.dtype)  # fmt: skip

    def progress(done: int, total: int, seconds: float) -> None:
        left = seconds / done * (total - done)
        log.info("m_1=%d: draws %d/%d, %.1f draws/s, %.0f s left", width, done, total, done / seconds, left)

    def sample(ids: np.ndarray) -> np.ndarray:
        # max_bytes=None: the plan checked each draw's memory against sampler.max_gib before any job ran
        kw = {"seed": spec.weight_seed, "method": method, "dtype": spec.dtype, "progress": progress}
        chosen = routes if method == Method.CONDITIONED else None
        return sample_kernels(x, arch, draws=ids, routes=chosen, max_bytes=None, **kw)

    began = time.perf_counter()
    first = sample(np.arange(start, start + 1))
    warm = time.perf_counter()
    rest = sample(np.arange(start + 1, stop))
    done = time.perf_counter()
    per_draw = (done - warm) / (stop - start - 1) if stop - start > 1 else done - began
    compile_seconds = max(0.0, warm - began - per_draw)
    log.info("%d draws in %.2f s (%.4f s per compiled draw)", stop - start, done - began, per_draw)
    return np.concatenate([first, rest]), per_draw, compile_seconds


def main(argv: Sequence[str] | None = None) -> None:
    """Sample draws start..stop-1 of the network of ``--spec`` at each of its base widths, on the inputs of
    ``--dataset``, into one store over (base_width, draw, i, j)."""
    args = draw_block_parser(__doc__, SampleSpec).parse_args(argv)
    log = setup_logging()
    spec: SampleSpec = args.spec

    import jax

    if spec.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import xarray as xr

    from ...storage.store import matrix_coords, open_store, provenance, write_store

    log.info("JAX compilation cache: %s", program_cache.install())
    x = open_store(args.dataset)["x"].values
    began = time.perf_counter()
    routes = zip(spec.architectures, spec.methods, spec.routes, strict=True)
    results = [sample_width(x, arch, method, maps, spec, args.draws, log) for arch, method, maps in routes]
    wall = time.perf_counter() - began
    (start, stop), arches = args.draws, spec.architectures
    ds = xr.Dataset(
        {
            "K": (("base_width", "draw", "i", "j"), np.stack([r[0] for r in results])),
            "layer_widths": (("base_width", "level"), np.asarray([a.widths for a in arches], dtype=np.int64)),
            "n_params": ("base_width", np.asarray([a.n_params for a in arches], dtype=np.int64)),
            "seconds_per_draw": ("base_width", np.asarray([r[1] for r in results], dtype=np.float64)),
        },
        coords={
            "base_width": np.asarray(spec.base_widths, dtype=np.int64),
            "draw": np.arange(start, stop, dtype=np.int64),
            "level": np.arange(len(arches[0].widths), dtype=np.int64),
            **matrix_coords(x.shape[0], arches[0].widths[-1]),
        },
    )
    compiling = sum(r[2] for r in results)
    attrs = provenance(
        spec.config(), stage="sample", key=spec.key, draw_start=start, draw_stop=stop, weight_seed=spec.weight_seed,
        dtype=str(spec.dtype), sampler_method=[str(m) for m in spec.methods], wall_time_s=wall,
        draw_seconds=wall - compiling, compile_seconds=compiling,
    )  # fmt: skip
    writing = time.perf_counter()
    write_store(ds, args.output, attrs, chunks={"K": (1, stop - start, *ds["K"].shape[2:])})
    writing = time.perf_counter() - writing
    log.info("wrote %s", args.output)
    # benchmarks/bench_pipeline.py reads this line: the job's time in drawing, compiling and writing.
    log.info("timing: drawing %.3f s, compiling %.3f s, writing %.3f s", wall - compiling, compiling, writing)


if __name__ == "__main__":
    main()
