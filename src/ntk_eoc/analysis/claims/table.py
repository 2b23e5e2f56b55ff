"""The claims table: what the papers prove (SCIENCE §4) and the fluctuation law (§6) against the data.

Columns :data:`COLUMNS` = ``claim, kind, role, predicted, measured, ci_low, ci_high, margin, rule,
verdict``. ``kind`` is "measured" (a rate, direction or law read from draws or exact limits), "bound" (a
measured growth compared with a proved upper bound's own dependence) or "theorem" (true by a theorem,
nothing measured; kept in a separate section); ``role`` is "claim", "control" (expected to fail) or
"calibration" (an identity exact at these sizes) (:class:`~.verdicts.Role`). ``rule`` is the full text
of the verdict rule with its margin;
every rule can give "holds", "fails" or "inconclusive" (:mod:`.verdicts`).

Rows: :mod:`.concentration_claims` (slope in m, flat / growing in depth, bound exponents in l and m_l,
abs vs relu), :mod:`.limit_claims` (the deep-limit asymptotic forms) and
:func:`.fluctuations.fluctuation_rows` (the product-form law). Intervals resample draw ids jointly across
the configurations a row compares (:data:`RANDOM_NUMBERS`, SCIENCE §7).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ...math.activations import Activation
from ...validate import InvalidValue, integer
from ..bootstrap import RANDOM_NUMBERS
from ..fluctuations import fluctuation_note, fluctuation_rows, pooled_forms
from ..names import CLAIM_DEFAULTS, CLAIM_NOTE, DEFAULT_N_BOOT
from .concentration_rows import (
    ConcentrationClaimSettings,
    bound_rows,
    depth_note,
    depth_rows,
    ratio_rows,
    slope_rows,
)
from .first_order_rows import first_order_rows
from .limit_rows import delta_rows, limit_rows
from .verdicts import COLUMNS, Kind

__all__ = [
    "COLUMNS",
    "DEFAULTS",
    "RANDOM_NUMBERS",
    "claims_markdown",
    "claims_table",
    "markdown",
    "write_claims",
]

# Defaults of the claim settings, each with its reason (config section ``claims``).
DEFAULTS = CLAIM_DEFAULTS


def _lookup(activations: Mapping[str, Activation] | None):
    def get(name: str) -> Activation:
        return activations[name] if activations and name in activations else Activation.named(name)

    return get


def _relative(var: str) -> str:
    return var[: -len("_abs")] + "_rel" if var.endswith("_abs") else var


def claims_table(
    deviations: xr.Dataset | None = None,
    spectrum: xr.Dataset | None = None,
    fluctuations: xr.Dataset | None = None,
    *,
    var: str = "op_abs",
    depth_var: str | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int,
    confidence: float = 0.95,
    m_min: float = DEFAULTS["m_min"],
    slope_margin: float = DEFAULTS["slope_margin"],
    depth_margin: float = DEFAULTS["depth_margin"],
    bound_margin: float = DEFAULTS["bound_margin"],
    bound_depth_margin: float = DEFAULTS["bound_depth_margin"],
    deep_depth: int = DEFAULTS["deep_depth"],
    limit_margin: float = DEFAULTS["limit_margin"],
    inv_cos_margin: float = DEFAULTS["inv_cos_margin"],
    limit_min_depth: int = DEFAULTS["limit_min_depth"],
    fluctuation_margin: float = DEFAULTS["fluctuation_margin"],
    product_beta_max: float = DEFAULTS["product_beta_max"],
    dsum_beta_max: float = DEFAULTS["dsum_beta_max"],
    fluctuation_v_max: float = DEFAULTS["fluctuation_v_max"],
    first_order_beta_max: float = DEFAULTS["first_order_beta_max"],
    first_order_margin: float = DEFAULTS["first_order_margin"],
    activations: Mapping[str, Activation] | None = None,
    summary: xr.Dataset | None = None,
) -> pd.DataFrame:
    """All claim rows the data allow (see the module docstrings of the row modules).

    Args:
        deviations: per-draw deviations (:func:`~.stats.deviations`) over ``draw`` (draw ids as coordinate),
            ``base_width`` and any of ``activation``, ``schedule``, ``depth``, ``output_dim``; settings that
            are not swept may be scalar coordinates (the depth and bound rows need ``schedule``, the bound
            rows ``activation``, ``depth`` and ``output_dim``).
        spectrum: :func:`~.spectrum.limit_spectrum` output, optionally over ``activation``.
        fluctuations: :func:`~.fluctuations.fluctuation_summary` output.
        var: the deviation of the slope, bound and ratio rows; depth_var: of the depth rows (default: the
            relative twin of ``var``, e.g. ``op_rel``).
        n_boot, seed, confidence: bootstrap settings; each row group uses its own child of SeedSequence(seed).
        m_min, slope_margin, depth_margin, bound_margin, limit_margin, inv_cos_margin, limit_min_depth,
            fluctuation_margin, product_beta_max, dsum_beta_max, fluctuation_v_max: rule settings, defaults
            and reasons in :data:`DEFAULTS`.
        activations: name -> Activation for names ``Activation.named`` does not know.
        summary: the deviation summary with the first-order predictions (``<var>_first_order``), for the
            rows of :mod:`.first_order_rows` (within ``first_order_margin`` at beta <= ``first_order_beta_max``).

    Returns:
        DataFrame with columns :data:`COLUMNS`, measured and bound rows first (NaN CI for exact rows).
    """
    s = ConcentrationClaimSettings(
        n_boot, seed, confidence, m_min, slope_margin, depth_margin, bound_margin, bound_depth_margin, deep_depth,
        product_beta_max, dsum_beta_max, fluctuation_v_max,
    )  # fmt: skip
    integer("limit_min_depth", limit_min_depth, 3, where="claims_table")
    if deviations is not None:
        for key, name in (("var", var), ("depth_var", depth_var)):
            if name is not None and name not in deviations:
                raise InvalidValue(
                    key, name, f"not a variable of the deviations ({list(deviations.data_vars)})", "claims_table"
                )
    seeds = np.random.SeedSequence(seed).spawn(6)
    get = _lookup(activations)
    rows: list[dict] = []
    if deviations is not None:
        rows += slope_rows(deviations, var, s, seeds[0], get)
        rows += depth_rows(deviations, var, depth_var or _relative(var), s, seeds[1], get)
        rows += bound_rows(deviations, var, "output_dim", s, seeds[3], get)
        rows += ratio_rows(deviations, var, s, seeds[4], get)
    if summary is not None:
        rows += first_order_rows(
            summary, _relative(var), beta_max=first_order_beta_max, margin=first_order_margin
        )  # fmt: skip
    if spectrum is not None:
        rows += limit_rows(spectrum, margin=limit_margin, inv_cos_margin=inv_cos_margin, min_depth=limit_min_depth)
        rows += delta_rows(spectrum, min_depth=limit_min_depth)
    notes = [depth_note(deviations, s)] if deviations is not None else []
    if fluctuations is not None:
        ranges = {"m_min": m_min, "product_beta_max": product_beta_max, "dsum_beta_max": dsum_beta_max,
                  "v_max": fluctuation_v_max}  # fmt: skip
        pooled = pooled_forms(fluctuations, m_min)
        rows += fluctuation_rows(fluctuations, margin=fluctuation_margin, pooled=pooled, **ranges)
        notes.append(fluctuation_note(fluctuations, pooled=pooled, **ranges))
    table = _theorems_last(pd.DataFrame(rows, columns=list(COLUMNS)))
    table.attrs["notes"] = [n for n in notes if n]
    return table


def _theorems_last(table: pd.DataFrame) -> pd.DataFrame:
    theorem = table["kind"] == str(Kind.THEOREM)
    return pd.concat([table[~theorem], table[theorem]], ignore_index=True)


def _cell(value) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def _section(rows: pd.DataFrame, labels: Mapping[str, str]) -> str:
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    lines = []
    for row in rows[list(COLUMNS)].itertuples(index=False):
        values = [labels.get(v, v) if c == "rule" else v for c, v in zip(COLUMNS, row, strict=True)]
        lines.append("| " + " | ".join(_cell(v) for v in values) + " |\n")
    return head + "".join(lines)


def markdown(table: pd.DataFrame, rules: Mapping[str, str] | None = None, note: str = "") -> str:
    """A claims table (:data:`COLUMNS`) as Markdown: measured and bound rows, then the rows true by theorem
    in their own section; the ``rule`` column refers to a numbered list of the distinct rule texts
    (R1, R2, ...), followed by the extra ``rules`` (name -> text) and an optional note."""
    texts = list(dict.fromkeys(table["rule"].tolist()))
    labels = {t: f"R{k + 1}" for k, t in enumerate(texts)}
    theorem = table["kind"] == str(Kind.THEOREM)
    out = _section(table[~theorem], labels)
    if theorem.any():
        out += "\nTrue by theorem (nothing measured, no verdict rule applies):\n\n" + _section(table[theorem], labels)
    listed = [f"- **{labels[t]}**: {t}" for t in texts] + [f"- **{k}**: {v}" for k, v in (rules or {}).items()]
    return f"{out}\nVerdict rules:\n\n" + "\n".join(listed) + "\n" + (f"\n{note}" if note else "")


def claims_markdown(table: pd.DataFrame) -> str:
    """The claims table as Markdown, with its notes (``table.attrs["notes"]``: rows this sweep cannot carry)
    and the random-number design of its intervals (SCIENCE §7)."""
    notes = "".join(f"{CLAIM_NOTE}{n}\n\n" for n in table.attrs.get("notes", []))
    return markdown(table, note=f"{notes}Random numbers: {RANDOM_NUMBERS}.\n")


def write_claims(table: pd.DataFrame, csv_path: str | Path, md_path: str | Path, *, text: str | None = None) -> None:
    """Write the table as CSV (NaN as empty) and its Markdown twin (``text``, default :func:`claims_markdown`)."""
    for p in (csv_path, md_path):
        Path(p).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False, na_rep="", float_format="%.6g")
    Path(md_path).write_text(claims_markdown(table) if text is None else text)
