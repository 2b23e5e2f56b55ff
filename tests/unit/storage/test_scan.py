"""ntk-eoc verify: one line per bad store, exit 1; --repair moves bad stores aside; transient names skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ntk_eoc.pipeline import cli
from ntk_eoc.storage import integrity, scan
from ntk_eoc.storage.store import StoreError, open_store, provenance, write_store
from ntk_eoc.storage.view_manifest import MANIFEST, write_view_manifest


def _write(path: Path, seed: int = 0) -> None:
    k = np.random.default_rng(seed).standard_normal((2, 3, 3)).astype(np.float32)
    ds = xr.Dataset({"K": (("draw", "i", "j"), k)}, coords={"draw": np.arange(2, dtype=np.int64)})
    write_store(ds, path, provenance({}), chunks={"K": (1, 3, 3)})


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    _write(root / "demo" / "samples" / "good.zarr")
    _write(root / "demo" / "samples" / "flipped.zarr")
    _write(root / "demo" / "limit" / "cut.zarr")
    _write(root / "demo" / "limit" / ".cut.zarr.tmp-0a1b2c3d")  # a temporary: skipped
    (root / ".snakemake").mkdir()  # hidden folders are skipped
    (root / "demo" / "tables").mkdir()
    (root / "demo" / "tables" / "claims.csv").write_text("a\n")
    write_view_manifest(root / "demo" / MANIFEST, [root / "demo" / "tables" / "claims.csv"], "figures")
    chunk = root / "demo" / "samples" / "flipped.zarr" / "K" / "c" / "1" / "0" / "0"
    data = bytearray(chunk.read_bytes())
    data[5] ^= 0x40
    chunk.write_bytes(bytes(data))
    cut = root / "demo" / "limit" / "cut.zarr" / "K" / "c" / "0" / "0" / "0"
    cut.write_bytes(cut.read_bytes()[:-7])
    return root


def test_find_stores_skips_hidden_and_transient_entries(results: Path) -> None:
    found = [p.relative_to(results).as_posix() for p in scan.find_stores(results)]
    assert found == ["demo/limit/cut.zarr", "demo/samples/flipped.zarr", "demo/samples/good.zarr"]
    assert scan.find_stores(results / "demo" / "samples" / "good.zarr") == [results / "demo/samples/good.zarr"]
    with pytest.raises(StoreError, match="does not exist"):
        scan.find_stores(results / "absent")


def test_fast_finds_the_truncation_full_also_the_flip(results: Path) -> None:
    lines: list[str] = []
    assert scan.verify_tree(results, report=lines.append) == (3, 1)
    cut = results / "demo/limit/cut.zarr"
    size = _size(cut)
    assert lines == [f"store {cut}: array 'K' chunk c/0/0/0: size {size - 7} != {size} recorded (truncated?)"]
    lines.clear()
    assert scan.verify_tree(results, full=True, report=lines.append) == (3, 2)
    assert lines[1] == f"store {results / 'demo/samples/flipped.zarr'}: array 'K' chunk c/1/0/0: sha256 differs " + (
        "from the manifest (bytes changed after writing)"
    )


def _size(store: Path) -> int:
    manifest = integrity.load_manifest(store, str(store))
    return manifest.files["K/c/0/0/0"].size


def test_repair_moves_bad_stores_aside_so_their_output_is_missing(results: Path) -> None:
    lines: list[str] = []
    assert scan.verify_tree(results, repair=True, report=lines.append) == (3, 2)  # repair implies full
    assert len(lines) == 4 and "moved to" in lines[1] and "moved to" in lines[3]
    assert lines[3].endswith(
        f"`snakemake --forcerun {results / 'demo/samples/flipped.zarr'}` rewrites it and everything made from it"
    )
    samples = sorted(p.name for p in (results / "demo" / "samples").iterdir())
    assert samples[1:] == ["good.zarr"] and samples[0].startswith(".flipped.zarr.bad-")
    assert integrity.is_transient(samples[0])
    with pytest.raises(StoreError, match="does not exist"):
        open_store(results / "demo" / "samples" / "flipped.zarr")
    assert scan.verify_tree(results, full=True, report=lines.append) == (1, 0)
    _write(results / "demo" / "samples" / "flipped.zarr")  # what the rerun job does
    assert scan.verify_tree(results, full=True) == (2, 0)


def test_cli_verify_exit_codes_and_one_line_per_bad_store(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", str(results / "demo" / "samples")]) == 0
    assert capsys.readouterr().out == f"{results / 'demo' / 'samples'}: 2 store(s) OK, 0 view(s) OK\n"
    assert cli.main(["verify", "--full", str(results)]) == 1
    captured = capsys.readouterr()
    assert [line.split(": ")[0] for line in captured.out.splitlines()] == [
        f"store {results / 'demo/limit/cut.zarr'}",
        f"store {results / 'demo/samples/flipped.zarr'}",
    ]
    assert captured.err == f"{results}: 2 of 3 store(s) bad; 0 of 1 view(s) bad\n"
    assert cli.main(["verify", str(results / "absent")]) == 1
    assert capsys.readouterr().err == f"ntk-eoc: error: {results / 'absent'} does not exist\n"
    assert cli.main(["verify", "--repair", str(results)]) == 1  # implies --full: both bad stores
    moved = f"{results}: 2 of 3 store(s) bad; moved aside: rewrite each with snakemake --forcerun"
    assert capsys.readouterr().err.startswith(moved)
    assert cli.main(["verify", "--full", str(results)]) == 0
    assert capsys.readouterr().out == f"{results}: 1 store(s) OK, 1 view(s) OK\n"
    (results / "demo" / "tables" / "claims.csv").write_text("b\n")  # edited after the view was written
    assert cli.main(["verify", str(results)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{results / 'demo/tables/claims.csv'}: differs from {results / 'demo' / MANIFEST}")
    assert captured.err == f"{results}: 0 of 1 store(s) bad; 1 of 1 view(s) bad\n"
