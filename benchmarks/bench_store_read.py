"""What the integrity checks cost when a store is read.

Writes one sample-sized store, K float32 over (base_width, draw, i, j) = (6, 128, 64, 64) (12 MiB, one
chunk per base width), with :func:`ntk_eoc.storage.store.write_store` (crc32c per chunk, manifest with
every file's sha256), and the same data as a plain zarr 3 store without either. Then times, median of
``--repeats`` reads after one warm-up (page cache warm), each read loading every value:

- the plain store through ``xr.open_dataset`` (no checks at all: the reference);
- the checked store through plain ``xr.open_zarr`` (crc32c only);
- ``open_store`` with the fast check (manifest, sizes, metadata digests; each chunk's sha256 as it is read);
- ``open_store(verify="full")`` (every digest before reading, then every chunk again as it is read);
- ``verify_store`` alone, fast and full (what ``ntk-eoc verify`` does per store).

Prints a table and writes ``benchmarks/results/store_read.csv``.

Usage:
    .venv/bin/python benchmarks/bench_store_read.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "store_read.csv"


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1e3


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--repeats", type=int, default=9)
    args = cli.parse_args()

    import numpy as np
    import xarray as xr
    from zarr.codecs import BloscCodec

    from ntk_eoc.storage.store import open_store, provenance, verify_store, write_store

    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 128, 64, 96)).astype(np.float32)
    kernels = np.einsum("wdpk,wdqk->wdpq", a, a) / 96
    coords = {"base_width": np.arange(6, dtype=np.int64) * 8 + 8, "draw": np.arange(128, dtype=np.int64)}
    ds = xr.Dataset({"K": (("base_width", "draw", "i", "j"), kernels)}, coords=coords)
    root = Path(tempfile.mkdtemp())
    try:
        checked, plain = root / "checked.zarr", root / "plain.zarr"
        write_store(ds, checked, provenance({}), chunks={"K": (1, 128, 64, 64)})
        codec = BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")
        encoding = {"K": {"compressors": [codec], "chunks": (1, 128, 64, 64)}}
        ds.to_zarr(plain, mode="w", zarr_format=3, consolidated=False, encoding=encoding)
        size = sum(p.stat().st_size for p in checked.rglob("*") if p.is_file()) / 2**20
        cases = {
            "plain zarr store, xr.open_dataset(...).load() (no checks)": lambda: xr.open_dataset(
                plain, engine="zarr", consolidated=False, chunks=None
            ).load(),
            "checked store, plain xr.open_zarr(...).load() (crc32c only)": lambda: xr.open_zarr(checked).load(),
            "open_store(...).load() (fast check; sha256 of each chunk read)": lambda: open_store(checked).load(),
            'open_store(..., verify="full").load()': lambda: open_store(checked, verify="full").load(),
            "verify_store (fast) alone": lambda: verify_store(checked),
            "verify_store(full=True) alone": lambda: verify_store(checked, full=True),
        }
        rows = [(name, _median_ms(fn, args.repeats)) for name, fn in cases.items()]
    finally:
        shutil.rmtree(root)
    reference = rows[0][1]
    print(f"store: K float32 (6, 128, 64, 64), {kernels.nbytes / 2**20:.0f} MiB raw, {size:.1f} MiB on disk;")
    print(f"median of {args.repeats} reads, load average {os.getloadavg()[0]:.2f}")
    print(f"{'ms':>8}  {'x plain':>7}  case")
    for name, ms in rows:
        print(f"{ms:8.1f}  {ms / reference:7.2f}  {name}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case", "median_ms", "x_plain", "repeats", "load"])
        for name, ms in rows:
            writer.writerow([name, round(ms, 2), round(ms / reference, 3), args.repeats, round(os.getloadavg()[0], 2)])


if __name__ == "__main__":
    main()
