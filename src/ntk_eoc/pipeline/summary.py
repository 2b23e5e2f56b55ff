"""What a finished run found, in a few lines: verdict counts of the claims tables, the rows that did not
hold, the warnings the jobs logged, and where the figures, tables and report are.

Printed at the end of every workflow run (``onsuccess`` in the Snakefile) and by
``ntk-eoc summarize <results/view>`` for any results folder. Reads only CSV files and logs (no JAX).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ..analysis.names import CLAIM_NOTE
from ..storage.view_manifest import MANIFEST, ViewError, listed, view_problems

__all__ = ["summarize", "warnings_in"]

CLAIMS_TABLES = ("claims.csv", "min_eigen_claims.csv")
# Rows listed when a claim does not hold (the rest are counted).
MAX_LISTED = 12
MAX_WARNINGS = 8
_WARNING = re.compile(r"(?:WARNING|Warning)[: ](.*)")


def _claims(table: Path) -> list[dict[str, str]]:
    with table.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _row_text(row: dict[str, str]) -> str:
    interval = f" [{row['ci_low']}, {row['ci_high']}]" if row.get("ci_low") else ""
    role = f" ({row['role']})" if row.get("role", "claim") != "claim" else ""
    return f"{row['verdict']}{role}: {row['claim']} (measured {row.get('measured', '')}{interval})"


def warnings_in(logs: Iterable[Path]) -> Counter:
    """Distinct warning messages of the job logs, with how many logs carry each."""
    found: Counter = Counter()
    for log in logs:
        try:
            text = log.read_text(errors="replace")
        except OSError:
            continue
        messages = {m.group(1).strip() for m in _WARNING.finditer(text)}
        found.update(m for m in messages if m)
    return found


def _counts(rows: list[dict]) -> str:
    """'N claims (k holds, ...)', then the controls (expected to fail) and calibrations, each counted apart."""
    parts = []
    for role, extra in (("claim", ""), ("control", ", expected to fail"), ("calibration", "")):
        mine = [row for row in rows if row.get("role", "claim") == role]
        if mine or role == "claim":
            counts = Counter(row.get("verdict", "") for row in mine)
            verdicts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
            label = f"{role}{'' if len(mine) == 1 else 's'}{extra}"
            parts.append(f"{len(mine)} {label} ({verdicts})" if mine else f"0 {label}")
    return "; ".join(parts)


def _notes(markdown: Path) -> list[str]:
    """The note lines of a claims table's Markdown twin (rows the sweep cannot carry, and where they are)."""
    try:
        text = markdown.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.startswith(CLAIM_NOTE)]


def _open(row: dict) -> bool:
    """A row to list under the counts: a claim or calibration that did not hold, a control that did not fail."""
    if row.get("role") == "control":
        return row.get("verdict") != "fails"
    return row.get("verdict") not in ("holds", "by theorem")


def _checked_files(view: Path) -> list[str]:
    """The files the view's manifest lists, each checked against it (:mod:`ntk_eoc.storage.view_manifest`);
    ViewError naming the first that differs. A view without tables and manifest (its jobs not run yet)
    has none."""
    if not (view / MANIFEST).exists() and not any((view / "tables").glob("*")):
        return []
    problems = view_problems(view)
    if problems:
        more = f" (and {len(problems) - 1} more: ntk-eoc verify {view})" if len(problems) > 1 else ""
        raise ViewError(problems[0] + more)
    return listed(view)


def summarize(view: str | Path, logs: Iterable[str | Path] = ()) -> str:
    """The summary of a results folder ``view`` (``results/<view>``); ``logs``: job logs to scan for
    warnings besides the view's own ``logs/``. Reads only the tables the view's manifest lists, after
    checking every listed file (ViewError naming one that is missing, edited or damaged)."""
    view = Path(view)
    lines = [f"ntk-eoc: results in {view}/"]
    files = _checked_files(view)
    for name in CLAIMS_TABLES:
        table = view / "tables" / name
        if f"tables/{name}" not in files:
            continue
        rows = _claims(table)
        lines.append(f"  {table}: {_counts(rows)}")
        lines += [f"    {note}" for note in _notes(table.with_suffix(".md"))]
        open_rows = [row for row in rows if _open(row)]
        lines += [f"    {_row_text(row)}" for row in open_rows[:MAX_LISTED]]
        if len(open_rows) > MAX_LISTED:
            lines.append(f"    ... {len(open_rows) - MAX_LISTED} more in {table.with_suffix('.md')}")
    found = warnings_in([*map(Path, logs), *(view / "logs").rglob("*.log")])
    if found:
        lines.append(f"  warnings in the job logs ({sum(found.values())}):")
        lines += [f"    {message} ({count} job(s))" for message, count in found.most_common(MAX_WARNINGS)]
    for folder in ("figures", "tables", "configs"):
        if (view / folder).is_dir():
            lines.append(f"  {folder}: {view / folder}/ ({sum(1 for _ in (view / folder).iterdir())} files)")
    lines.append(f"  report: snakemake --report {view}/report.html (every figure with its caption)")
    return "\n".join(lines)
