"""The run summary: claims, controls and calibrations counted apart, the rows to read listed, notes printed."""

from __future__ import annotations

import csv

from ntk_eoc.analysis.claims.verdicts import COLUMNS
from ntk_eoc.pipeline.summary import summarize


def _row(claim: str, role: str, verdict: str) -> dict:
    row = dict.fromkeys(COLUMNS, "")
    return {**row, "claim": claim, "kind": "measured", "role": role, "measured": "0.5", "verdict": verdict}


def test_controls_and_calibrations_are_counted_apart_and_a_control_that_holds_is_listed(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
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
    text = summarize(tmp_path)
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
