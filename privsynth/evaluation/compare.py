"""The fidelity report a user wants right after ``sample``: real and synthetic side by side.

:func:`compare` measures, on the domain's public cells, each column's 1-way total-variation
distance (TVD) and missing rates, the average 2-way TVD, the pairwise association (Cramér's V)
of both tables and its difference, and the business rules' violations in both; the HTML report
(:meth:`Comparison.write_report`) adds per-column plots, the same plots as the profile report
(:mod:`privsynth.evaluation.plots`). It reads the real records: keep it as private as they are.

Example:
    >>> import privsynth as ps
    >>> real, domain = ps.datasets.make_census(1000, random_state=0)
    >>> synth = ps.synthesizers.IndependentMarginals(epsilon=1.0, random_state=0).fit(real, domain).sample(1000, random_state=0)
    >>> result = compare(real, synth, domain)
    >>> list(result.columns.columns)[:3], 0 <= result.tvd_2 <= 1
    (['column', 'kind', 'tvd'], True)
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privsynth.core.binning import cell_of
from privsynth.core.dataset import encode, levels, validate
from privsynth.core.domain import DEFAULT_BINS, Domain, Numeric
from privsynth.core.rules import violation_counts
from privsynth.evaluation.fidelity import marginal_tvd
from privsynth.evaluation.plots import association_matrix, embed, plot_association, plot_distribution, plot_missing

__all__ = ["Comparison", "compare"]

_NOTE = ("This report reads the real records (their distributions, missing rates and associations): keep it as private "
         "as the data. Only the synthetic release and its certificate may be published.")


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` measured. ``columns``: one row per column (kind, how it is modelled,
    1-way TVD, missing rates); ``association_real`` / ``association_synthetic``: Cramér's V
    matrices over ``names``; ``rules``: violations per rule in both tables."""

    columns: pd.DataFrame
    tvd_1: float
    tvd_2: float
    names: tuple
    association_real: np.ndarray
    association_synthetic: np.ndarray
    rules: pd.DataFrame
    rows: tuple
    real: pd.DataFrame = field(repr=False, compare=False)
    synthetic: pd.DataFrame = field(repr=False, compare=False)
    domain: Domain = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": {"real": self.rows[0], "synthetic": self.rows[1]}, "tvd_1": self.tvd_1, "tvd_2": self.tvd_2,
                "columns": self.columns.to_dict("records"), "rules": self.rules.to_dict("records"),
                "association_mean_absolute_difference": float(np.abs(self.association_synthetic - self.association_real).mean())}

    def to_markdown(self) -> str:
        out = [f"# Real vs synthetic ({self.rows[0]} real, {self.rows[1]} synthetic records)", "", f"> {_NOTE}", "",
               f"Average 1-way TVD {self.tvd_1:.4f}, 2-way TVD {self.tvd_2:.4f}.", "", _markdown_table(self.columns)]
        if len(self.rules):
            out += ["", "## Business rules", "", _markdown_table(self.rules)]
        return "\n".join(out) + "\n"

    def to_html(self) -> str:
        parts = ["<!doctype html><meta charset='utf-8'><title>privsynth comparison</title>",
                 "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
                 "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}.warn{background:#fff3cd;padding:8px}"
                 "img{max-width:100%}</style>",
                 f"<h1>Real vs synthetic: {self.rows[0]} real, {self.rows[1]} synthetic records</h1>",
                 f"<p class='warn'>{html.escape(_NOTE)}</p>",
                 f"<p>Average 1-way TVD <b>{self.tvd_1:.4f}</b>, 2-way TVD <b>{self.tvd_2:.4f}</b> (0: the same "
                 "distribution on the domain's cells; 1: disjoint).</p>", self.columns.to_html(index=False, escape=True)]
        if len(self.rules):
            parts += ["<h2>Business rules</h2>", self.rules.to_html(index=False, escape=True)]
        names = [c.name for c in self.domain]
        rates = {"real": [float(self.real[n].isna().mean()) for n in names],
                 "synthetic": [float(self.synthetic[n].isna().mean()) for n in names]}
        parts.append("<h2>Missing values</h2>" + embed(plot_missing(names, rates)))
        if len(self.names) >= 2:
            parts.append("<h2>Pairwise association (Cramér's V)</h2>")
            parts.append(embed(plot_association(self.association_real, self.names, title="real")))
            parts.append(embed(plot_association(self.association_synthetic, self.names, title="synthetic")))
            parts.append(embed(plot_association(self.association_synthetic - self.association_real, self.names,
                                                title="synthetic - real", diverging=True)))
        parts.append("<h2>Distributions</h2>")
        for row in self.columns.itertuples(index=False):
            col = self.domain[row.column]
            title = f"{col.name} (1-way TVD {row.tvd:.3f})"
            if isinstance(col, Numeric) and col.points:  # a spike is a cell of its own: bars per cell show it
                tables = {label: _cell_labels(t[col.name], col) for label, t in (("real", self.real), ("synthetic", self.synthetic))}
                fig = plot_distribution(col.name, tables, numeric=False, title=title)
            else:
                edges = col.edges() if isinstance(col, Numeric) and col.n_bins() <= 80 else None
                fig = plot_distribution(col.name, {"real": self.real[col.name], "synthetic": self.synthetic[col.name]},
                                        numeric=isinstance(col, Numeric), edges=edges, title=title)
            parts.append(f"<h3>{html.escape(col.name)}</h3>" + embed(fig))
        return "\n".join(parts)

    def write_report(self, path: str | Path) -> Path:
        """Write the report: HTML for ``.html``/``.htm``, markdown for ``.md``."""
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm", ".md"):
            raise ValueError(f"The report is written as .html or .md, not {path.suffix or 'a file without suffix'}: {str(path)!r}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_html() if path.suffix.lower() in (".html", ".htm") else self.to_markdown(), encoding="utf-8")
        return path


def _cell_labels(values: pd.Series, col: Numeric) -> pd.Series:
    """Each value's cell of the domain, as text: a point mass by its value, a bin by its range."""
    edges = col.edges()
    cells = cell_of(edges, values.to_numpy(dtype=float))
    names = [f"{lo:g} to {hi:g}" for lo, hi in zip(edges[:-1], edges[1:])]
    for p in col.points:
        names[int(cell_of(edges, p))] = f"= {p:g}"
    return pd.Series(np.asarray(names, dtype=object)[cells], index=values.index).where(values.notna())


def _markdown_table(df: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def compare(real: pd.DataFrame, synthetic: pd.DataFrame, domain: Domain, *, bins: int = DEFAULT_BINS) -> Comparison:
    """Compare a synthetic table with the real one on the domain's public cells.

    Args:
        real, synthetic: The tables (each must conform to ``domain``; identifiers are dropped).
        domain: The public domain both follow (its rules are checked on both).
        bins: Bins for numeric columns whose domain declares none (as the synthesizer used).

    Returns:
        A :class:`Comparison`.
    """
    r = validate(real[[c for c in real.columns if c in domain]], domain)
    s = validate(synthetic[[c for c in synthetic.columns if c in domain]], domain)
    sizes = levels(domain, bins=bins)
    rc, sc = encode(r, domain, bins=bins), encode(s, domain, bins=bins)
    rows = []
    for j, col in enumerate(domain):
        p = np.bincount(rc[:, j], minlength=sizes[j]) / max(len(r), 1)
        q = np.bincount(sc[:, j], minlength=sizes[j]) / max(len(s), 1)
        rows.append({"column": col.name, "kind": col.kind,
                     "tvd": 0.5 * float(np.abs(p - q).sum()),
                     "modelled as": col.describe_binning(bins) if isinstance(col, Numeric) else f"{len(col.categories)} categories"
                     + (f" ({len(col.merged)} merged into one cell)" if col.merged else ""),
                     "missing real": float(r[col.name].isna().mean()), "missing synthetic": float(s[col.name].isna().mean())})
    table = pd.DataFrame(rows)
    names = tuple(domain.names[:30])
    cells_r = pd.DataFrame(rc[:, : len(names)], columns=list(names))  # associations on the domain's cells: spikes count
    cells_s = pd.DataFrame(sc[:, : len(names)], columns=list(names))
    rules = pd.DataFrame(columns=["rule", "kind", "real", "synthetic"])
    if domain.rules:
        vr, vs = violation_counts(r, domain), violation_counts(s, domain)
        rules = pd.DataFrame({"rule": vr["rule"], "kind": vr["kind"], "real": vr["violations"], "synthetic": vs["violations"]})
    tvd_2 = marginal_tvd(r, s, domain, order=2, bins=bins).average if len(domain) >= 2 else float("nan")
    return Comparison(columns=table, tvd_1=float(table["tvd"].mean()), tvd_2=float(tvd_2), names=names,
                      association_real=association_matrix(cells_r, names, ()), association_synthetic=association_matrix(cells_s, names, ()),
                      rules=rules, rows=(len(r), len(s)), real=r, synthetic=s, domain=domain)
