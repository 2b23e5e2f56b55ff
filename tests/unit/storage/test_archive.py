"""Archive round trip: pack -> verify -> restore -> open_store, extra roots, and the damage verify reports.

Crafted (hostile) archives are in ``tests/faults/test_archive_attacks.py``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ntk_eoc.pipeline import cli
from ntk_eoc.storage import archive
from ntk_eoc.storage.archive import MANIFEST, ArchiveError, pack, restore, verify
from ntk_eoc.storage.store import open_store, provenance, write_store

STORE = "limit/lim-1.zarr"
SHARED = "shared-1.zarr"
CSV = "tables/claims.csv"
PNG = "figures/k.png"
YAML = "configs/activation~relu.yaml"
PREFIX = "results/demo"


def _limit_store(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ds = xr.Dataset(
        {"K_inf": (("i", "j"), rng.standard_normal((4, 4))), "nngp": (("p", "q"), rng.standard_normal((2, 2)))},
        coords={"i": np.arange(4), "j": np.arange(4), "p": np.arange(2), "q": np.arange(2)},
    )
    write_store(ds, path, provenance({"depth": 2}, stage="limit"))


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    root = tmp_path / "src" / "results" / "demo"
    _limit_store(root / STORE, 0)
    (root / ".limit-2.zarr.tmp-0123abcd").mkdir()  # a killed writer's temporary: never archived
    (root / "tables").mkdir()
    (root / CSV).write_text("claim,holds\nconcentration,True\n")
    (root / "figures").mkdir()
    (root / PNG).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / "configs").mkdir()
    (root / YAML).write_text("activation:\n  name: relu\ndepth: 2\n")
    return root


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` -> file bytes (None for folders): a snapshot to compare."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None for p in root.rglob("*")}


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
        assert {"zarr.json", "K_inf/zarr.json", "manifest.json"} <= set(inner.namelist())
        inner_total = sum(info.file_size for info in inner.infolist())
    expected = {f"{PREFIX}/{p}" for p in (f"{STORE}.zip", CSV, PNG, YAML)} | {"environment.json"}
    assert names == expected | {MANIFEST}
    assert set(manifest["members"]) == expected and manifest["experiment"] == "demo"
    assert manifest["format"] == 2 and manifest["roots"] == [PREFIX]
    assert manifest["members"][f"{PREFIX}/{CSV}"]["size"] == (experiment / CSV).stat().st_size
    assert manifest["members"][f"{PREFIX}/{STORE}.zip"]["inner_size"] == inner_total
    assert env["experiment"] == "demo" and "numpy" in env["packages"] and "git_commit" in env

    restored = restore(out, tmp_path / "dest")
    assert restored == tmp_path / "dest" / "results" / "demo"
    xr.testing.assert_identical(open_store(restored / STORE).load(), open_store(experiment / STORE).load())
    for rel in (CSV, PNG, YAML):
        assert (restored / rel).read_bytes() == (experiment / rel).read_bytes()
        assert int((restored / rel).stat().st_mtime) // 2 == int((experiment / rel).stat().st_mtime) // 2
    assert [p.name for p in (tmp_path / "dest").iterdir()] == ["results"]  # no temporary folder left
    before = _tree(tmp_path / "dest")
    with pytest.raises(ArchiveError, match="already exists"):
        restore(out, tmp_path / "dest")
    assert _tree(tmp_path / "dest") == before


def test_extra_roots_are_packed_and_merged_into_an_existing_shared_folder(experiment: Path, tmp_path: Path) -> None:
    shared = experiment.parent / "stores"
    _limit_store(shared / SHARED, 1)
    out = pack(experiment, tmp_path / "demo.zip", extra_roots=[shared])
    with zipfile.ZipFile(out) as zf:
        assert json.loads(zf.read(MANIFEST))["roots"] == [PREFIX, "results/stores"]
        assert f"results/stores/{SHARED}.zip" in zf.namelist()
    assert verify(out) == []
    dest = tmp_path / "dest"
    _limit_store(dest / "results" / "stores" / "other.zarr", 2)  # another experiment's shared store stays
    restore(out, dest)
    assert sorted(p.name for p in (dest / "results" / "stores").iterdir()) == ["other.zarr", SHARED]
    restored = open_store(dest / "results" / "stores" / SHARED).load()
    xr.testing.assert_identical(restored, open_store(shared / SHARED).load())

    second = tmp_path / "dest2"
    _limit_store(second / "results" / "stores" / SHARED, 3)
    before = _tree(second)
    with pytest.raises(ArchiveError, match=f"stores/{SHARED} already exists; restore never overwrites"):
        restore(out, second)
    assert _tree(second) == before
    with pytest.raises(ArchiveError, match="is not inside the results folder"):
        pack(experiment, tmp_path / "x.zip", extra_roots=[tmp_path])


def test_a_failed_rename_into_place_is_undone(experiment: Path, tmp_path: Path, monkeypatch) -> None:
    shared = experiment.parent / "stores"
    _limit_store(shared / SHARED, 1)
    out = pack(experiment, tmp_path / "demo.zip", extra_roots=[shared])
    dest = tmp_path / "dest"
    _limit_store(dest / "results" / "stores" / SHARED, 3)
    before = _tree(dest)
    # A target that appears between the checks and the renames: the demo root is already renamed
    # into place when the shared store collides; that rename must be undone.
    monkeypatch.setattr(archive, "_conflicts", lambda dest, manifest: None)
    with pytest.raises(ArchiveError, match="already exists"):
        restore(out, dest)
    assert _tree(dest) == before


def test_a_damaged_store_is_not_packed(experiment: Path, tmp_path: Path) -> None:
    chunk = experiment / STORE / "K_inf" / "c" / "0" / "0"
    data = bytearray(chunk.read_bytes())
    data[3] ^= 0x10
    chunk.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"damaged store: store .*lim-1.zarr: array 'K_inf' chunk c/0/0: sha256"):
        pack(experiment, tmp_path / "demo.zip")
    assert not (tmp_path / "demo.zip").exists()


def test_verify_names_a_flipped_byte(experiment: Path, tmp_path: Path) -> None:
    out = pack(experiment, tmp_path / "demo.zip")
    for member in (f"{PREFIX}/{PNG}", f"{PREFIX}/{STORE}.zip"):
        with zipfile.ZipFile(out) as zf:
            data = bytearray(zf.read(member))
        data[len(data) // 2] ^= 0xFF
        bad = tmp_path / "bad.zip"
        _rewrite(out, bad, {member: bytes(data)})
        assert verify(bad) == [f"{member}: sha256 differs from {MANIFEST}"]
        with pytest.raises(ArchiveError, match="failed verification"):
            restore(bad, tmp_path / "nowhere")
        assert not (tmp_path / "nowhere").exists()


def test_verify_reports_missing_and_unlisted_members(experiment: Path, tmp_path: Path) -> None:
    out = pack(experiment, tmp_path / "demo.zip")
    bad = tmp_path / "bad.zip"
    _rewrite(out, bad, {f"{PREFIX}/{CSV}": None}, extra={f"{PREFIX}/tables/extra.csv": b"a\n1\n"})
    assert verify(bad) == [f"{PREFIX}/tables/extra.csv: not listed in {MANIFEST}", f"{PREFIX}/{CSV}: missing"]
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
    assert capsys.readouterr().out.splitlines() == [
        f"{PREFIX}/{YAML}: uncompressed size 9 (zip header) != 34 recorded in {MANIFEST}"
    ]
    assert cli.main(["archive", "restore", str(bad), str(tmp_path / "d1")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ntk-eoc: error: ") and "failed verification" in err and err.count("\n") == 1

    assert cli.main(["archive", "restore", str(out), str(tmp_path / "d2")]) == 0
    assert (tmp_path / "d2" / "results" / "demo" / CSV).read_text() == (experiment / CSV).read_text()
    assert cli.main(["archive", "pack", str(tmp_path / "absent"), str(tmp_path / "x.zip")]) == 1
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["archive"])
    assert exit_info.value.code == 2
