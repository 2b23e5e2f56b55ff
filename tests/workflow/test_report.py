"""`snakemake --report` on the tiny experiment: every figure of workflow/rules/figures.smk, with its caption.

Snakemake 9 writes one self-contained HTML file; its script `var results = {...};` holds, per reported file,
the caption rendered from `workflow/report/<name>.rst`, the labels, the producing rule and the file itself
as a base64 data URI.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import pytest
from workflow_helpers import ROOT, Project

from ntk_eoc.analysis.claims.verdicts import COLUMNS

RESULTS = "results/tiny"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _plain(text: str) -> str:
    """Text without HTML tags, entities, reST inline literals and repeated whitespace."""
    text = html.unescape(re.sub(r"<[^>]+>", "", text)).replace("``", "")
    return " ".join(text.split())


def _figures_job_outputs(project: Project) -> list[str]:
    """Outputs of the `figures` job, from Snakemake's own dry-run listing of figures.smk."""
    text = project.run("-n", "--forcerun", "figures").stdout
    block = text[text.index("\nrule figures:\n") :]
    line = next(line for line in block.splitlines() if line.startswith("    output: "))
    return line.removeprefix("    output: ").split(", ")


def _reported(path: Path) -> dict[str, dict]:
    page = path.read_text()
    start = page.index("var results = {") + len("var results = ")
    results, _ = json.JSONDecoder().raw_decode(page, start)
    return results


@pytest.fixture(scope="module")
def report(completed: Project, tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, dict]]:
    """(the finished tiny run, the `results` table of its report)."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    completed.run("--report", str(path))
    return completed, _reported(path)


def _assert_reported(entry: dict, file: Path, caption: Path) -> None:
    assert entry["job_properties"]["rule"] == "figures"
    mime, data = entry["data_uri"].split(";base64,")
    assert mime.startswith(f"data:{entry['mime_type']};")
    assert base64.b64decode(data) == file.read_bytes()
    assert _plain(caption.read_text()) in _plain(entry["caption"])


@pytest.mark.slow
def test_report_holds_every_figure_with_its_caption(report):
    project, results = report
    pngs = [out for out in _figures_job_outputs(project) if out.endswith(".png")]
    assert len(pngs) >= 5 and all(out.startswith(f"{RESULTS}/figures/") for out in pngs)
    for out in pngs:
        name = Path(out).stem
        entry = results[out]
        assert entry["labels"] == {"figure": name} and entry["mime_type"] == "image/png"
        _assert_reported(entry, project.root / out, ROOT / "workflow/report" / f"{name}.rst")
        assert base64.b64decode(entry["data_uri"].split(",", 1)[1]).startswith(PNG_SIGNATURE)


@pytest.mark.slow
def test_report_holds_the_claims_table_with_its_caption(report):
    project, results = report
    entry = results[f"{RESULTS}/tables/claims.csv"]
    assert entry["labels"] == {"table": "claims"} and entry["mime_type"] == "text/csv"
    _assert_reported(entry, project.root / RESULTS / "tables/claims.csv", ROOT / "workflow/report/claims.rst")
    assert base64.b64decode(entry["data_uri"].split(",", 1)[1]).decode().startswith(",".join(COLUMNS) + "\n")
