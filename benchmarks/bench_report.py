"""Rows of bench_samplers.py: several rounds merged, ratios, the printed table and the CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from bench_worker import summarize

NT = "neural-tangents"


def merge_rounds(rounds: list[dict]) -> dict:
    """One row from the rows of several rounds of a configuration: per-draw times pooled (median,
    quartiles, range), the median of the floors, the largest memory, the range of loads."""
    import numpy as np

    ok = [r for r in rounds if r["status"] == "ok"]
    if not ok:
        return rounds[-1]
    row = dict(ok[-1])
    row.update(summarize(np.array([t for r in ok for t in r["times_ms"]]) / 1e3))
    row["floor_ms"] = float(np.median([r["floor_ms"] for r in ok]))
    for key in ("peak_rss_mib", "base_rss_mib", "timed_rss_mib"):
        if key in row:
            row[key] = max(r[key] for r in ok)
    row["round_medians_ms"] = " ".join(f"{np.median(r['times_ms']):.4g}" for r in ok)
    row["load"] = max(r["load"] for r in ok)
    row["load_range"] = f"{min(r['load'] for r in ok):.2f}-{row['load']:.2f}"
    row["rounds"] = len(ok)
    return row


def add_ratios(rows: list[dict]) -> None:
    """x_floor = ms/draw / floor ms; cond_speedup = ms/draw / conditioned's; nt_speedup = NT's / ms/draw."""
    ok = [r for r in rows if r["status"] == "ok"]
    cond = {r["m"]: r["median_ms"] for r in ok if r["method"] == "conditioned"}
    nt = {r["m"]: r["median_ms"] for r in ok if r["method"] == NT}
    for r in rows:
        good = r["status"] == "ok"
        r["x_floor"] = r["median_ms"] / r["floor_ms"] if good and r.get("floor_ms") else None
        r["cond_speedup"] = (
            r["median_ms"] / cond[r["m"]] if good and r["method"] != "conditioned" and r["m"] in cond else None
        )
        r["nt_speedup"] = nt[r["m"]] / r["median_ms"] if good and r["method"] != NT and r["m"] in nt else None


def _fmt_ms(v: float) -> str:
    return f"{v:.4g}" if v < 1000 else f"{v:.0f}"


def _ratio(v: float | None) -> str:
    return "" if v is None else f"{v:.3g}x"


HEAD = [
    "method", "m", "hidden widths", "B", "runs", "ms/draw (median)", "IQR ms", "floor ms", "x floor",
    "compile s", "peak MiB", "delta MiB", "model MiB", "load", "vs cond.", "NT / this",
]  # fmt: skip


def _cells(r: dict) -> list[str]:
    hidden = "/".join(str(w) for w in r["widths"][1:-1])
    name = r["method"] if r["method"] != NT else f"NT ({r.get('implementation', '?').split('_')[0].lower()})"
    if r["status"] != "ok":
        return [name, str(r["m"]), hidden, "", "", r["status"], *[""] * (len(HEAD) - 6)]
    delta = r["peak_rss_mib"] - r["base_rss_mib"] if "peak_rss_mib" in r else None
    return [
        name, str(r["m"]), hidden, str(r["draws_per_call"]), str(r["runs"]), _fmt_ms(r["median_ms"]),
        f"{_fmt_ms(r['q25_ms'])}-{_fmt_ms(r['q75_ms'])}", _fmt_ms(r["floor_ms"]), _ratio(r["x_floor"]),
        f"{r['compile_s']:.2f}", "" if delta is None else f"{r['peak_rss_mib']:.0f}",
        "" if delta is None else f"{delta:.0f}", f"{r['model_mib']:.0f}" if r.get("model_mib") else "",
        f"{r['load']:.2f}", _ratio(r["cond_speedup"]), _ratio(r["nt_speedup"]),
    ]  # fmt: skip


def format_table(rows: list[dict]) -> str:
    body = [_cells(r) for r in rows]
    widths = [max(len(c) for c in col) for col in zip(HEAD, *body, strict=True)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(HEAD, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |" for line in body]
    return "\n".join(lines)


CSV_FIELDS = [
    "method", "implementation", "m", "widths", "params", "status", "est_gib", "draws_per_call", "runs",
    "median_ms", "q25_ms", "q75_ms", "min_ms", "max_ms", "floor_ms", "x_floor", "gaussians", "compile_s",
    "base_rss_mib", "peak_rss_mib", "timed_rss_mib", "model_mib", "cond_speedup", "nt_speedup", "device",
    "jax", "load", "load_range", "rounds", "round_medians_ms",
]  # fmt: skip


def write_csv(rows: list[dict], path: Path, info: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        out.writeheader()
        for r in rows:
            defaults = {"device": info["devices"], "jax": info["jax"]}
            out.writerow({**defaults, **r, "widths": " ".join(str(w) for w in r["widths"])})
