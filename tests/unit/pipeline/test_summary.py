"""The run summary: claims, controls and calibrations counted apart, the rows to read listed, notes printed."""

from __future__ import annotations

import csv

import pytest

from ntk_eoc.analysis.claims.verdicts import COLUMNS
from ntk_eoc.pipeline import cli
from ntk_eoc.pipeline.summary import summarize
from ntk_eoc.storage.view_manifest import ViewError, write_view_manifest


def _row(claim: str, role: str, verdict: str) -> dict:
    row = dict.fromkeys(COLUMNS, "")
    return {**row, "claim": claim, "kind": "measured", "role": role, "measured": "0.5", "verdict": verdict}


def _view(tmp_path):
    """A view with a claims table and its Markdown twin, listed in its manifest."""
    tables = tmp_path / "tables"
    tables.mkdir(parents=True)
    rows = [
        _row("slope A", "claim", "holds"),
        _row("slope B", "claim", "inconclusive"),
        _row("depth form, constant widths", "control", "fails"),
        _row("flat, constant widths", "control", "holds"),
        _row("identity at depth 2", "calibration", "holds"),
    ]
    with (tables / "claims.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    (tables / "claims.md").write_text("| claim |\n\nNote: depth rows are left to the `depth` experiment.\n")
    write_view_manifest(tmp_path / "MANIFEST.json", [tables / "claims.csv", tables / "claims.md"], "figures")
    return tmp_path


def test_controls_and_calibrations_are_counted_apart_and_a_control_that_holds_is_listed(tmp_path):
    text = summarize(_view(tmp_path))
    counts = (
        "2 claims (1 holds, 1 inconclusive); 2 controls, expected to fail (1 fails, 1 holds); 1 calibration (1 holds)"
    )
    assert f"claims.csv: {counts}" in text
    assert "    Note: depth rows are left to the `depth` experiment." in text
    listed = [line.strip() for line in text.splitlines() if line.startswith("    ") and "measured" in line]
    assert listed == [
        "inconclusive: slope B (measured 0.5)",
        "holds (control): flat, constant widths (measured 0.5)",
    ]


def test_an_edited_table_is_an_error_naming_it_in_summarize_and_verify(tmp_path, capsys):
    view = _view(tmp_path / "demo")
    table = view / "tables" / "claims.csv"
    table.write_text(table.read_text().replace("fails", "holds", 1))  # "1 fails" would become "0 fails"
    with pytest.raises(ViewError, match=rf"{table}: differs from {view / 'MANIFEST.json'} \(edited or damaged"):
        summarize(view)
    assert cli.main(["summarize", str(view)]) == 1
    assert cli.main(["verify", str(tmp_path)]) == 1
    out = capsys.readouterr()
    assert f"{table}: differs from" in out.out and "1 of 1 view(s) bad" in out.err


def test_a_missing_manifest_or_file_is_named_and_unlisted_tables_are_not_read(tmp_path, capsys):
    view = _view(tmp_path / "demo")
    (view / "tables" / "min_eigen_claims.csv").write_text("claim,verdict\nforeign,holds\n")  # not listed
    assert "min_eigen_claims" not in summarize(view)
    assert cli.main(["verify", str(view)]) == 0 and "0 store(s) OK, 1 view(s) OK" in capsys.readouterr().out
    (view / "tables" / "claims.md").unlink()
    with pytest.raises(ViewError, match=r"claims\.md: listed in MANIFEST\.json but missing"):
        summarize(view)
    (view / "MANIFEST.json").unlink()
    with pytest.raises(ViewError, match=r"MANIFEST\.json: missing \(the view's tables and figures cannot be checked"):
        summarize(view)
