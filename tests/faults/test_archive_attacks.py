"""Crafted archives (issue 11's attack round): each is refused by verify and by restore with one line,
and restore leaves the destination exactly as it was; harmless oddities (directory entries) are accepted."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import warnings
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ntk_eoc.pipeline import cli
from ntk_eoc.storage.archive import MANIFEST, ArchiveError, pack, restore, verify
from ntk_eoc.storage.store import open_store, provenance, write_store

BOMB_BYTES = 200 * 2**20  # the 200 MB member (a ~200 KB zip)
INNER_BOMB_BYTES = 50 * 2**20
RECORDED = 1000  # the size the crafted manifests claim


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _info(name: str, mode: int = stat.S_IFREG | 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, (2024, 6, 11, 0, 0, 0))
    info.create_system, info.external_attr = 3, mode << 16
    return info


def _zip_bytes(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)  # the duplicate-member attack
        for info, data in entries:
            zf.writestr(info, data)
    return buffer.getvalue()


def _craft(path: Path, entries: list, *, listed: list[str] | None = None, **manifest) -> Path:
    """A zip of ``entries`` and a MANIFEST.json listing ``listed`` (default: every entry) with their true
    sizes and digests; ``manifest`` overrides keys (experiment, roots, members...)."""
    names = [e[0].filename if isinstance(e[0], zipfile.ZipInfo) else e[0] for e in entries]
    listed = names if listed is None else listed
    members = {n: {"size": len(d), "sha256": _sha(d)} for n, (_, d) in zip(names, entries, strict=True) if n in listed}
    doc = {"format": 2, "experiment": "demo", "roots": ["results/demo"], "members": members, **manifest}
    path.write_bytes(_zip_bytes([*entries, (MANIFEST, json.dumps(doc).encode())]))
    return path


def _deflated_zeros(name: str, size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo(name, (2024, 6, 11, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as fh:
            for _ in range(size // 2**20):
                fh.write(bytes(2**20))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~200 KB zip whose one member inflates to 200 MB, listed with size RECORDED."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    path.write_bytes(_deflated_zeros("results/demo/big.bin", BOMB_BYTES))
    doc = {"experiment": "demo", "members": {"results/demo/big.bin": {"size": RECORDED, "sha256": "0" * 64}}}
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(MANIFEST, json.dumps(doc))
    return path


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    """A checkout-like destination: a Snakefile and another experiment's table."""
    root = tmp_path / "dest"
    (root / "results" / "test" / "tables").mkdir(parents=True)
    (root / "Snakefile").write_text("rule all:\n    input: []\n")
    (root / "results" / "test" / "tables" / "claims.md").write_text("| claim | verdict |\n")
    return root


def _tree(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None for p in root.rglob("*")}


def _craft_inner_bomb(path: Path) -> Path:
    """A store zip whose one entry inflates to INNER_BOMB_BYTES, listed with inner_size RECORDED."""
    inner = _deflated_zeros("K/c/0/0", INNER_BOMB_BYTES)
    member = {"size": len(inner), "sha256": _sha(inner), "inner_size": RECORDED}
    doc = {"format": 2, "experiment": "demo", "roots": ["results/demo"], "members": {"results/demo/l.zarr.zip": member}}
    path.write_bytes(_zip_bytes([("results/demo/l.zarr.zip", inner), (MANIFEST, json.dumps(doc).encode())]))
    return path


CSV = ("results/demo/tables/claims.csv", b"claim,holds\nconcentration,True\n")
ATTACKS = {
    "member named Snakefile": (
        lambda p: _craft(p, [("Snakefile", b"rule all:\n    shell: 'touch /tmp/pwned'\n"), CSV]),
        "member Snakefile is not a safe path under results/demo",
    ),
    "unlisted Snakefile": (
        lambda p: _craft(p, [("Snakefile", b"evil"), CSV], listed=[CSV[0]]),
        "Snakefile: outside MANIFEST.json, environment.json and results/demo/",
    ),
    "experiment differs from member paths": (
        lambda p: _craft(
            p, [("results/test/tables/claims.md", b"forged")], experiment="other", roots=["results/other"]
        ),
        "member results/test/tables/claims.md is not a safe path under results/other",
    ),
    "experiment names another folder": (
        lambda p: _craft(p, [CSV], experiment="test", roots=["results/test"]),
        "member results/demo/tables/claims.csv is not a safe path under results/test",
    ),
    "experiment ../../../tmp/exptrav": (
        lambda p: _craft(p, [CSV], experiment="../../../tmp/exptrav", roots=["results/../../../tmp/exptrav"]),
        "experiment '../../../tmp/exptrav' is not a plain name",
    ),
    "listed ../../tmp/evil.txt": (
        lambda p: _craft(p, [("results/demo/../../tmp/evil.txt", b"x"), CSV]),
        "member results/demo/../../tmp/evil.txt is not a safe path",
    ),
    "unlisted ../../tmp/evil.txt": (
        lambda p: _craft(p, [("../../tmp/evil.txt", b"x"), CSV], listed=[CSV[0]]),
        "../../tmp/evil.txt: '..' in the path",
    ),
    "absolute member": (
        lambda p: _craft(p, [("/tmp/evil.txt", b"x"), CSV], listed=[CSV[0]]),
        "/tmp/evil.txt: absolute path",
    ),
    "root outside results": (
        lambda p: _craft(p, [CSV], roots=["results/demo", "workflow"]),
        "root 'workflow' is not a plain relative path",
    ),
    "symlink entry": (
        lambda p: _craft(p, [(_info("results/demo/link", stat.S_IFLNK | 0o777), b"../../Snakefile"), CSV]),
        "results/demo/link: symlink entry refused",
    ),
    "device entry": (
        lambda p: _craft(p, [(_info("results/demo/dev", stat.S_IFCHR | 0o600), b""), CSV]),
        "results/demo/dev: special entry refused",
    ),
    "duplicate member": (
        lambda p: _craft(p, [CSV, CSV]),
        "results/demo/tables/claims.csv: duplicate member",
    ),
    "store member that is not a zip": (
        lambda p: _craft(p, [("results/demo/limit/l.zarr.zip", b"plain text, not a zip"), CSV]),
        "results/demo/limit/l.zarr.zip: not a readable zip store (BadZipFile",
    ),
    "symlink inside a store zip": (
        lambda p: _craft(
            p, [("results/demo/l.zarr.zip", _zip_bytes([(_info("zarr.json", stat.S_IFLNK | 0o777), b"/etc")]))]
        ),
        "results/demo/l.zarr.zip: entry zarr.json: symlink entry refused",
    ),
    "../ inside a store zip": (
        lambda p: _craft(p, [("results/demo/l.zarr.zip", _zip_bytes([("../../../evil", b"x")]))]),
        "results/demo/l.zarr.zip: entry ../../../evil: '..' in the path",
    ),
    "200 MB inside a store zip": (
        _craft_inner_bomb,
        f"results/demo/l.zarr.zip: entries declare {INNER_BOMB_BYTES} bytes, more than the {RECORDED} recorded",
    ),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_crafted_archive_is_refused_in_one_line_and_the_destination_is_unchanged(
    attack: str, tmp_path: Path, dest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    craft, message = ATTACKS[attack]
    archive = craft(tmp_path / "attack.zip")
    assert any(message in line for line in verify(archive)), verify(archive)
    before = _tree(dest)
    with pytest.raises(ArchiveError, match=None) as refused:
        restore(archive, dest)
    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert _tree(dest) == before
    assert cli.main(["archive", "restore", str(archive), str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ntk-eoc: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert _tree(dest) == before


def test_a_200_mb_member_is_refused_after_reading_at_most_its_recorded_size(
    bomb: Path, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: Counter[str] = Counter()
    original = zipfile.ZipExtFile.read

    def counting(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        data = original(self, n)
        read[self.name] += len(data)
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    assert verify(bomb) == [
        f"results/demo/big.bin: uncompressed size {BOMB_BYTES} (zip header) != {RECORDED} recorded in {MANIFEST}"
    ]
    before = _tree(dest)
    with pytest.raises(ArchiveError, match=r"big\.bin: uncompressed size"):
        restore(bomb, dest)
    assert _tree(dest) == before
    assert read["results/demo/big.bin"] <= RECORDED + 1


def _experiment(root: Path) -> Path:
    ds = xr.Dataset({"K_inf": (("i", "j"), np.eye(3))}, coords={"i": np.arange(3), "j": np.arange(3)})
    write_store(ds, root / "results" / "demo" / "limit" / "l.zarr", provenance({"depth": 1}))
    (root / "results" / "demo" / "tables").mkdir()
    (root / CSV[0]).write_bytes(CSV[1])
    return root / "results" / "demo"


def test_directory_entries_are_accepted_harmlessly(tmp_path: Path, dest: Path) -> None:
    good = pack(_experiment(tmp_path / "src"), tmp_path / "good.zip")
    with_dirs = tmp_path / "dirs.zip"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(with_dirs, "w") as zout:
        for name in ("results/", "results/demo/", "results/demo/tables/", "results/demo/limit/"):
            zout.writestr(_info(name, stat.S_IFDIR | 0o755), b"")
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
    assert verify(with_dirs) == []
    restored = restore(with_dirs, dest)
    assert (restored / "tables" / "claims.csv").read_bytes() == CSV[1]
    np.testing.assert_array_equal(open_store(restored / "limit" / "l.zarr")["K_inf"].values, np.eye(3))
    assert (dest / "Snakefile").read_text().startswith("rule all")


def test_a_bad_member_found_after_others_were_extracted_leaves_nothing(tmp_path: Path, dest: Path) -> None:
    good = pack(_experiment(tmp_path / "src"), tmp_path / "good.zip")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        infos = sorted(zin.infolist(), key=lambda i: i.filename == CSV[0])  # the damaged member last
        for info in infos:
            data = zin.read(info)
            zout.writestr(info, data.replace(b"True", b"Fals") if info.filename == CSV[0] else data)
    before = _tree(dest)
    with pytest.raises(ArchiveError, match=r"claims.csv: sha256 differs from MANIFEST.json"):
        restore(bad, dest)
    assert _tree(dest) == before  # nothing renamed in, no .ntk-eoc-restore-* folder left


@pytest.mark.parametrize("link", ["results", "results/demo", "results/demo/limit"])
def test_restore_refuses_a_symbolic_link_on_the_way_and_writes_nothing_outside_dest(tmp_path, link) -> None:
    good = pack(_experiment(tmp_path / "src"), tmp_path / "good.zip")
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    outside.mkdir()
    (dest / link).parent.mkdir(parents=True, exist_ok=True)
    (dest / link).symlink_to(outside, target_is_directory=True)
    with pytest.raises(ArchiveError, match=rf"{dest / link} is a symbolic link to {outside}: restore writes nothing"):
        restore(good, dest)
    assert list(outside.iterdir()) == []


def test_restore_into_a_destination_named_through_a_link_resolves_it_once(tmp_path) -> None:
    good = pack(_experiment(tmp_path / "src"), tmp_path / "good.zip")
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    restored = restore(good, tmp_path / "alias")
    assert restored == tmp_path / "real" / "results" / "demo"
    assert (restored / "tables" / "claims.csv").read_bytes() == CSV[1]


@pytest.mark.parametrize("where", ["file", "store file", "folder"])
def test_pack_refuses_symbolic_links_inside_the_view(tmp_path, where) -> None:
    view = _experiment(tmp_path / "src")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the view")
    link = {"file": view / "tables" / "notes.txt", "store file": view / "limit" / "l.zarr" / "extra"}.get(
        where, view / "more"
    )
    link.symlink_to(secret if where != "folder" else tmp_path, target_is_directory=where == "folder")
    with pytest.raises(ArchiveError, match=rf"{link} is a symbolic link to .*: pack does not follow links"):
        pack(view, tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()


def _expanding_archive(tmp_path: Path, size: int) -> Path:
    """An archive whose one member, listed honestly, deflates ``size`` zero bytes (a valid but 'zipped
    bomb' archive: our packer stores members uncompressed)."""
    data = bytes(size)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("results/demo/tables/zeros.bin", data)
        doc = {
            "format": 2, "experiment": "demo", "roots": ["results/demo"],
            "members": {"results/demo/tables/zeros.bin": {"size": size, "sha256": _sha(data)}},
        }  # fmt: skip
        zf.writestr(MANIFEST, json.dumps(doc))
    path = tmp_path / "expanding.zip"
    path.write_bytes(buffer.getvalue())
    return path


def test_restore_caps_the_expansion_ratio_and_the_size_with_flags_to_raise_them(tmp_path, capsys) -> None:
    archive, dest = _expanding_archive(tmp_path, 8 * 2**20), tmp_path / "dest"
    assert verify(archive) == []  # intact: the caps are restore's
    with pytest.raises(
        ArchiveError, match=r"would restore 8388608 bytes from \d+, \d+ times its size, over the cap of 4"
    ):
        restore(archive, dest)
    assert not dest.exists()
    with pytest.raises(
        ArchiveError, match=r"would restore 0\.01 GiB, over the cap of 0\.00 GiB \(raise it with --max-gib\)"
    ):
        restore(archive, dest, max_bytes=2**20, max_ratio=1e6)
    assert cli.main(["archive", "restore", str(archive), str(dest), "--max-ratio", "1e6"]) == 0
    assert (dest / "results" / "demo" / "tables" / "zeros.bin").stat().st_size == 8 * 2**20


def test_an_honest_archive_restores_under_the_default_caps(tmp_path) -> None:
    good = pack(_experiment(tmp_path / "src"), tmp_path / "good.zip")
    total = sum(p.stat().st_size for p in (tmp_path / "src").rglob("*") if p.is_file())
    assert total <= 4 * good.stat().st_size
    assert restore(good, tmp_path / "dest").is_dir()
