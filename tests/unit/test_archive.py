"""Archive round trip: pack -> verify -> restore -> open_store, and the damage verify reports."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ntk_eoc.pipeline import cli
from ntk_eoc.storage.archive import MANIFEST, ArchiveError, pack, restore, verify
from ntk_eoc.storage.store import open_store, provenance, write_store

STORE = "limit/lim-1.zarr"
CSV = "tables/claims.csv"
PNG = "figures/k.png"
YAML = "configs/activation~relu.yaml"
PREFIX = "results/demo"


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    root = tmp_path / "src" / "results" / "demo"
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {"K_inf": (("i", "j"), rng.standard_normal((4, 4))), "nngp": (("p", "q"), rng.standard_normal((2, 2)))},
        coords={"i": np.arange(4), "j": np.arange(4), "p": np.arange(2), "q": np.arange(2)},
    )
    write_store(ds, root / STORE, provenance({"depth": 2}, stage="limit"))
    (root / "tables").mkdir()
    (root / CSV).write_text("claim,holds\nconcentration,True\n")
    (root / "figures").mkdir()
    (root / PNG).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / "configs").mkdir()
    (root / YAML).write_text("activation:\n  name: relu\ndepth: 2\n")
    return root


def _rewrite(src: Path, dst: Path, change: dict[str, bytes | None], extra: dict[str, bytes] | None = None) -> None:
    """Copy a zip member by member; ``change`` maps a name to new bytes (None drops it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename in change:
                if change[info.filename] is None:
                    continue
                data = change[info.filename]
            zout.writestr(info, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)


def test_pack_verify_restore_round_trip(experiment: Path, tmp_path: Path) -> None:
    out = pack(experiment, tmp_path / "demo.zip")
    assert verify(out) == []
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read(MANIFEST))
        env = json.loads(zf.read("environment.json"))
        inner = zipfile.ZipFile(zf.open(f"{PREFIX}/{STORE}.zip"))
        assert "zarr.json" in inner.namelist() and "K_inf/zarr.json" in inner.namelist()
    expected = {f"{PREFIX}/{p}" for p in (f"{STORE}.zip", CSV, PNG, YAML)} | {"environment.json"}
    assert names == expected | {MANIFEST}
    assert set(manifest["members"]) == expected and manifest["experiment"] == "demo"
    assert manifest["members"][f"{PREFIX}/{CSV}"]["size"] == (experiment / CSV).stat().st_size
    assert env["experiment"] == "demo" and "numpy" in env["packages"] and "git_commit" in env

    restored = restore(out, tmp_path / "dest")
    assert restored == tmp_path / "dest" / "results" / "demo"
    xr.testing.assert_identical(open_store(restored / STORE).load(), open_store(experiment / STORE).load())
    for rel in (CSV, PNG, YAML):
        assert (restored / rel).read_bytes() == (experiment / rel).read_bytes()
    with pytest.raises(ArchiveError, match="already exists"):
        restore(out, tmp_path / "dest")


def test_verify_names_a_flipped_byte(experiment: Path, tmp_path: Path) -> None:
    out = pack(experiment, tmp_path / "demo.zip")
    for member in (f"{PREFIX}/{PNG}", f"{PREFIX}/{STORE}.zip"):
        with zipfile.ZipFile(out) as zf:
            data = bytearray(zf.read(member))
        data[len(data) // 2] ^= 0xFF
        bad = tmp_path / "bad.zip"
        _rewrite(out, bad, {member: bytes(data)})
        assert verify(bad) == [f"{member}: size or sha256 differs from {MANIFEST}"]
        with pytest.raises(ArchiveError, match="failed verification"):
            restore(bad, tmp_path / "nowhere")
        assert not (tmp_path / "nowhere").exists()


def test_verify_reports_missing_and_unlisted_members(experiment: Path, tmp_path: Path) -> None:
    out = pack(experiment, tmp_path / "demo.zip")
    bad = tmp_path / "bad.zip"
    _rewrite(out, bad, {f"{PREFIX}/{CSV}": None}, extra={f"{PREFIX}/tables/extra.csv": b"a\n1\n"})
    assert verify(bad) == [f"{PREFIX}/{CSV}: missing", f"{PREFIX}/tables/extra.csv: not listed in {MANIFEST}"]
    no_manifest = tmp_path / "no_manifest.zip"
    _rewrite(out, no_manifest, {MANIFEST: None})
    assert verify(no_manifest) == [f"{MANIFEST}: missing"]
    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"plain text")
    assert verify(not_zip)[0].startswith(f"{not_zip}: not a readable zip")


def test_cli_exit_codes(experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.zip"
    assert cli.main(["archive", "pack", str(experiment), str(out)]) == 0
    assert cli.main(["archive", "verify", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{out}: OK"

    bad = tmp_path / "bad.zip"
    _rewrite(out, bad, {f"{PREFIX}/{YAML}": b"depth: 3\n"})
    assert cli.main(["archive", "verify", str(bad)]) == 1
    assert capsys.readouterr().out.splitlines() == [f"{PREFIX}/{YAML}: size or sha256 differs from {MANIFEST}"]
    assert cli.main(["archive", "restore", str(bad), str(tmp_path / "d1")]) == 1
    assert "failed verification" in capsys.readouterr().err

    assert cli.main(["archive", "restore", str(out), str(tmp_path / "d2")]) == 0
    assert (tmp_path / "d2" / "results" / "demo" / CSV).read_text() == (experiment / CSV).read_text()
    assert cli.main(["archive", "pack", str(tmp_path / "absent"), str(tmp_path / "x.zip")]) == 1
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["archive"])
    assert exit_info.value.code == 2
