"""Profile a table into a *draft* domain the user edits, with a report for the data owner.

:func:`profile` reads the private table (nothing here is differentially private: the draft and
the report describe the data and are as sensitive as the data; use
:func:`privsynth.profiling.estimate_domain` for a domain you may publish) and returns a
:class:`Profile`: per-column statistics, identifier detections, and a draft
:class:`~privsynth.core.domain.Domain` with ``provenance="inferred"``:

* kinds: numbers become ``numeric`` (bounds rounded *outward* to public-looking values such as
  ``10 .. 100``), small sets of whole numbers and known ordered labels (``low < medium < high``)
  become ``ordinal``, other text ``categorical``; text with too many values for a category is
  left out as an identifier;
* direct identifiers (names, SSNs, e-mails ...) get ``role: identifier`` and are dropped from
  synthesis; ZIP codes, dates, age, sex and the like ``quasi_identifier``; special categories
  of personal data (health, ethnicity ...) ``sensitive``.

:meth:`Profile.to_yaml` writes the draft as a commented YAML file saying, column by column, what
was found and what to check; :meth:`Profile.to_html` a self-contained report with plots.

Example:
    >>> import pandas as pd
    >>> p = profile(pd.DataFrame({"email": [f"u{i}@example.org" for i in range(30)], "score": [1, 2, 3] * 10}))
    >>> p.domain.identifiers, p.domain["score"].kind, p.domain["score"].bins
    (('email',), 'numeric', 3)
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privsynth.core.binning import SMALL_INTEGER_RANGE
from privsynth.core.columns import plain
from privsynth.core.domain import Categorical, Column, Domain, Numeric, Ordinal
from privsynth.core.errors import DomainError
from privsynth.data.files import read_raw
from privsynth.evaluation.plots import association_matrix, embed, plot_association, plot_distribution, plot_missing
from privsynth.profiling.identifiers import Detection, _name_hints, _normalize, detect_column

__all__ = ["profile", "Profile", "ColumnProfile", "nice_bounds", "read_raw", "role_from_name"]

LEAK_WARNING = ("DRAFT read off the private data (provenance: inferred): categories, bounds and the report are "
                "as sensitive as the data, and certificates built on this domain are INVALID. Replace the bounds and "
                "categories by public knowledge, then set `provenance: declared` -- or estimate the domain with "
                "differential privacy (`privsynth profile --dp`).")
_ORDERED_LABELS = (
    ("very low", "low", "medium", "high", "very high"),
    ("low", "medium", "high"), ("low", "mid", "high"), ("never", "rarely", "sometimes", "often", "always"),
    ("xs", "s", "m", "l", "xl", "xxl"), ("strongly disagree", "disagree", "neutral", "agree", "strongly agree"),
    ("poor", "fair", "good", "very good", "excellent"), ("none", "mild", "moderate", "severe"),
)
_QUASI_HINT = re.compile(r"(^|_)(age|sex|gender|race|ethnicity|zip|zip_?code|postcode|postal_?code|birth_?year|year_of_birth|"
                         r"marital(_status)?|education|country|nationality|native_country|occupation|job|city|county|state|"
                         r"region)($|_)")


@dataclass(frozen=True)
class ColumnProfile:
    """What :func:`profile` found about one column (exact statistics of the private data)."""

    name: str
    dtype: str
    missing: int
    missing_rate: float
    distinct: int
    kind: str
    detection: Detection | None
    summary: dict = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Profile:
    """A draft domain and what it was drawn from. See :func:`profile`."""

    domain: Domain
    columns: tuple
    rows: int
    data: pd.DataFrame = field(repr=False, compare=False)

    @property
    def detections(self) -> list[Detection]:
        """Every identifier / personal-data detection, in column order."""
        return [c.detection for c in self.columns if c.detection is not None]

    def to_yaml(self) -> str:
        """The draft domain as YAML with a comment above every column (what was found, what to check)."""
        import yaml

        lines = ["# privsynth draft domain (privsynth profile)", *("# " + s for s in _wrap(LEAK_WARNING, 96)),
                 "# Kinds: categorical (unordered), ordinal (categories in order), numeric (lower/upper public bounds,",
                 "# integer, bins). Roles: identifier (dropped, never synthesized), quasi_identifier, sensitive.",
                 "# Business rules (enforced when sampling), e.g.:",
                 "#   rules:", "#     - \"age >= 18\"", "#     - \"start <= end\"",
                 "#     - \"if relationship == 'Husband' then sex == 'Male'\"", "#     - \"total = a + b\"",
                 f"provenance: {self.domain.provenance}", "columns:"]
        entries = {c.name: c.to_dict() for c in self.domain.columns}
        for cp in self.columns:
            for comment in _column_comments(cp):
                lines.append(f"  # {comment}")
            entry = entries.get(cp.name, {"name": cp.name, "role": "identifier"})
            dumped = yaml.safe_dump([entry], sort_keys=False, default_flow_style=None, width=100, allow_unicode=True)
            lines.extend("  " + line for line in dumped.rstrip().splitlines())
        if self.domain.rules:
            lines.append("rules:")
            lines.extend("  " + line for line in yaml.safe_dump(list(self.domain.rules), sort_keys=False).rstrip().splitlines())
        return "\n".join(lines) + "\n"

    def write_yaml(self, path: str | Path) -> Path:
        """Write :meth:`to_yaml` to ``path`` (it loads with :meth:`Domain.from_file`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_yaml(), encoding="utf-8")
        return path

    def table(self) -> pd.DataFrame:
        """One row per column: kind, role, missing rate, distinct values, detection, note."""
        rows = []
        for cp in self.columns:
            role = "identifier" if cp.name in self.domain.identifiers else (
                self.domain[cp.name].role if cp.name in self.domain else None)
            det = cp.detection
            rows.append({"column": cp.name, "dtype": cp.dtype, "kind": cp.kind, "role": role or "",
                         "missing_rate": round(cp.missing_rate, 4), "distinct": cp.distinct,
                         "detected": f"{det.kind} ({det.confidence:.2f})" if det else "",
                         "regulations": "; ".join(det.regulations) if det else "", "note": cp.note})
        return pd.DataFrame(rows)

    def to_markdown(self) -> str:
        """The report as markdown (tables only; the HTML report has the plots)."""
        t = self.table()
        out = [f"# Profile ({self.rows} rows, {len(self.columns)} columns)", "", f"> {LEAK_WARNING}", "",
               "| " + " | ".join(t.columns) + " |", "|" + "---|" * len(t.columns)]
        out += ["| " + " | ".join(str(v) for v in row) + " |" for row in t.itertuples(index=False)]
        if self.detections:
            out += ["", "## Identifiers and personal data", ""]
            out += [f"- `{d.column}`: {d.label}, confidence {d.confidence:.2f} ({d.evidence}); "
                    f"{'direct identifier, dropped from synthesis' if d.direct else 'kept'}; {'; '.join(d.regulations)}"
                    for d in self.detections]
        return "\n".join(out) + "\n"

    def to_html(self) -> str:
        """A self-contained HTML report: the table, per-column distributions, missing rates and
        pairwise association (Cramér's V), plots embedded as PNG."""
        t = self.table()
        parts = ["<!doctype html><meta charset='utf-8'><title>privsynth profile</title>",
                 "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
                 "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}.warn{background:#fff3cd;padding:8px}"
                 "img{max-width:100%}</style>",
                 f"<h1>Profile: {self.rows} rows, {len(self.columns)} columns</h1>",
                 f"<p class='warn'>{html.escape(LEAK_WARNING)}</p>", t.to_html(index=False, escape=True)]
        if self.detections:
            parts.append("<h2>Identifiers and personal data</h2><ul>")
            parts += [f"<li><b>{html.escape(d.column)}</b>: {html.escape(d.label)}, confidence {d.confidence:.2f} "
                      f"({html.escape(d.evidence)}); {'direct identifier, dropped' if d.direct else 'kept'}; "
                      f"{html.escape('; '.join(d.regulations))}</li>" for d in self.detections]
            parts.append("</ul>")
        parts.append("<h2>Missing values</h2>" + embed(plot_missing(list(t["column"]), {"records": list(t["missing_rate"])})))
        names = [c.name for c in self.domain.columns][:30]
        if len(names) >= 2:
            numeric = [c.name for c in self.domain.columns if isinstance(c, Numeric)]
            matrix = association_matrix(self.data, names, numeric)
            parts.append("<h2>Pairwise association (Cramér's V)</h2>" + embed(plot_association(matrix, names)))
        parts.append("<h2>Distributions</h2>")
        for cp in self.columns:
            if cp.name in self.domain.identifiers:
                continue
            title = f"{cp.name} ({cp.kind}, {cp.missing_rate:.1%} missing)"
            parts.append(f"<h3>{html.escape(cp.name)}</h3>" + embed(plot_distribution(
                cp.name, {"records": self.data[cp.name]}, numeric=cp.kind == "numeric", title=title)))
        return "\n".join(parts)

    def write_report(self, path: str | Path) -> Path:
        """Write the report: HTML for ``.html``/``.htm``, markdown otherwise."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = self.to_html() if path.suffix.lower() in (".html", ".htm") else self.to_markdown()
        path.write_text(text, encoding="utf-8")
        return path


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return lines + ([line] if line else [])


def _column_comments(cp: ColumnProfile) -> list[str]:
    out = [f"{cp.name}: {cp.dtype}, {cp.missing_rate:.1%} missing, {cp.distinct} distinct values"]
    if cp.detection is not None:
        d = cp.detection
        out.append(f"DETECTED {d.label} (confidence {d.confidence:.2f}; {d.evidence}) -- {'; '.join(d.regulations)}")
    if cp.note:
        out += _wrap(cp.note, 94)
    return out


def nice_bounds(lower: float, upper: float, integer: bool = False) -> tuple[float, float]:
    """Round ``[lower, upper]`` strictly outward to public-looking values (multiples of a power
    of ten, or of half of one), so the draft does not repeat the data's extremes; a lower bound
    of zero stays zero.

    Example:
        >>> nice_bounds(17, 90), nice_bounds(12285, 1484705), nice_bounds(0.13, 0.92)
        ((10, 100), (0, 1500000), (0.1, 1.0))
    """
    span = upper - lower if upper > lower else max(abs(upper), abs(lower), 1.0)
    step = 10.0 ** math.floor(math.log10(span))
    if span / step < 3:
        step /= 2
    lo = math.floor(lower / step + 1e-9) * step
    hi = math.ceil(upper / step - 1e-9) * step
    if lo >= lower - 1e-9 * step and lower != 0:
        lo -= step
    if lower >= 0 > lo:
        lo = 0.0
    if hi <= upper + 1e-9 * step:
        hi += step
    digits = max(0, 2 - math.floor(math.log10(step)))
    lo, hi = round(lo, digits), round(hi, digits)  # 0.30000000000000004 -> 0.3
    if integer or (float(lo).is_integer() and float(hi).is_integer() and step >= 1):
        return int(lo), int(hi)
    return lo, hi


def _plain_category(value: Any) -> Any:
    """A category a domain accepts: str/int/bool as they are (numpy scalars unwrapped), anything
    else (dates, floats in a text column) as its text."""
    value = plain(value)
    return value if isinstance(value, (str, int, bool)) and not isinstance(value, float) else str(value)


def _ordered_labels(values: list) -> tuple | None:
    lowered = {str(v).strip().lower(): v for v in values}
    for scale in _ORDERED_LABELS:
        if set(lowered) <= set(scale) and len(lowered) >= 2:
            return tuple(lowered[s] for s in scale if s in lowered)
    return None


def _role(name: str, detection: Detection | None) -> str | None:
    if detection is not None and detection.direct:
        return "identifier"
    if detection is not None and detection.kind == "special_category":
        return "sensitive"
    norm = _normalize(name)
    if (detection is not None and detection.kind in ("postcode", "date")) or _QUASI_HINT.search(norm):
        return "quasi_identifier"
    if "special_category" in _name_hints(name) or re.search(r"(^|_)(income|salary|wage|diagnosis|disease)($|_)", norm):
        return "sensitive"
    return None


#: Column names that by themselves say "free text" (a name merely ending in one says nothing).
_FREE_TEXT_NAMES = {"comment", "comments", "note", "notes", "description", "text", "remarks", "free_text", "message", "notes_text"}


def role_from_name(name: str) -> str | None:
    """A role from the column's *name* alone (no value is looked at): a name that says SSN,
    e-mail, phone, person name, ID ... gives ``"identifier"``; age, sex, ZIP ... give
    ``"quasi_identifier"``; health, ethnicity, income ... ``"sensitive"``.

    Example:
        >>> role_from_name("customer_email"), role_from_name("age"), role_from_name("diagnosis"), role_from_name("plan")
        ('identifier', 'quasi_identifier', 'sensitive', None)
        >>> role_from_name("notes"), role_from_name("score_text")
        ('identifier', None)
    """
    from privsynth.profiling.identifiers import DIRECT_KINDS

    hints = _name_hints(name) & set(DIRECT_KINDS)
    if "free_text" in hints and _normalize(name) not in _FREE_TEXT_NAMES:
        hints.discard("free_text")  # 'score_text', 'decision_note': an ordinary word, not a column of free text
    if hints:
        return "identifier"
    return _role(name, None)


#: A value holding at least this share of a wide numeric column is drafted as a point mass.
_POINT_SHARE = 0.05


def _profile_column(name: str, s: pd.Series, *, max_categories: int) -> tuple[ColumnProfile, Column | None]:
    missing = int(s.isna().sum())
    present = s.dropna()
    distinct = int(present.astype(str).nunique())
    found = detect_column(s, name)
    detection = found[0] if found and found[0].confidence >= 0.5 else None
    role = _role(name, detection)
    nullable = missing > 0
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    summary: dict[str, Any] = {}
    note = ""
    column: Column | None
    if role == "identifier":
        kind = "identifier"
        note = ("A direct identifier: dropped from synthesis (`role: identifier`). Delete this entry only if the column "
                "is not what the detection says.")
        column = None
    elif numeric and len(present):
        values = present.to_numpy(dtype=float)
        integer = bool(np.all(np.mod(values, 1) == 0))
        summary = {"min": float(values.min()), "max": float(values.max()), "mean": float(values.mean())}
        kind = "numeric"
        lo, hi = nice_bounds(float(values.min()), float(values.max()), integer)
        if integer and int(values.max()) - int(values.min()) + 1 <= SMALL_INTEGER_RANGE:  # counts and codes
            lo, hi = int(values.min()), int(values.max())
            hi = hi if hi > lo else lo + 1
            column = Numeric(name, lo, hi, integer=True, bins=hi - lo + 1, nullable=nullable, role=role)
            note = (f"Whole numbers {lo}..{hi}: a count or a code, modelled with one level per value (bins: {hi - lo + 1}), "
                    "so spikes such as 0 keep their share. Widen the bounds to the public range (and bins with them).")
        else:
            counts = pd.Series(values).value_counts(normalize=True)
            points = tuple(sorted(plain(v) for v, share in counts.items() if share >= _POINT_SHARE and lo <= v <= hi))[:8]
            column = Numeric(name, lo, hi, integer=integer, nullable=nullable, role=role, points=points)
            note = ("Bounds rounded outward from the data's range; replace them by public limits (e.g. a form's "
                    "allowed range). Values outside public bounds are refused unless clipped (--clip). Modelled as "
                    f"{column.describe_binning()}.")
            if points:
                note += (f" points {list(points)} each hold {_POINT_SHARE:.0%} or more of the records here: keep only those "
                         "that are public facts (a zero, a 'not applicable' code, a top code).")
    elif distinct == 0:
        kind = "categorical"
        column = Categorical(name, ("",), nullable=True, role=role)
        note = "Every value is missing; declare its categories from public knowledge or drop the column."
    elif distinct <= max_categories:
        distinct_values = {_plain_category(v) for v in present}
        cats = sorted(distinct_values, key=lambda v: (str(type(v)), v))
        converted = any(not isinstance(v, (str, int, bool)) or isinstance(v, float) for v in present.head(1000))
        ordered = _ordered_labels(cats)
        summary = {"top": present.astype(str).value_counts().head(5).to_dict()}
        if ordered:
            kind = "ordinal"
            column = Ordinal(name, ordered, nullable=nullable, role=role)
            note = "Labels of a known ordered scale, listed in their order."
        else:
            kind = "categorical"
            column = Categorical(name, tuple(cats), nullable=nullable, role=role)
            note = ("Categories read off the data (a rare category is itself private): list every *public* category, "
                    "also those absent here.")
        if converted:
            note += (" Its values are not text, whole numbers or booleans (e.g. dates): the categories are their text "
                     "form, so convert the column to text (df[col].astype(str)) before fitting.")
    else:
        kind = "identifier"
        role = "identifier"
        column = None
        note = (f"{distinct} distinct text values: too many for a category (max {max_categories}), so it is treated as an "
                "identifier and dropped. Generalize it (e.g. to a region or a year) and declare it, if it is needed.")
    cp = ColumnProfile(name, str(s.dtype), missing, missing / len(s) if len(s) else 0.0, distinct, kind, detection,
                       summary, note)
    return cp, column


def profile(df: pd.DataFrame, *, max_categories: int = 100) -> Profile:
    """Profile ``df`` into a draft domain (``provenance="inferred"``) and a report.

    Whole-number columns whose range has at most 64 values are drafted with one level per value
    (``bins``); wider numeric columns with equal-width bins, plus a point mass for any value that
    holds 5% or more of the records (``points``). Each column's comment says how it is modelled.

    Args:
        df: The table (private; so is the result).
        max_categories: Text columns with more distinct values are treated as identifiers.

    Returns:
        A :class:`Profile`.

    Raises:
        DomainError: ``df`` has no rows or no columns.
    """
    if not isinstance(df, pd.DataFrame) or df.shape[1] == 0:
        raise DomainError("profile needs a pandas DataFrame with at least one column.")
    if len(df) == 0:
        raise DomainError("The table has columns but no records; there is nothing to profile.")
    profiles, columns, identifiers = [], [], []
    for name in df.columns:
        cp, column = _profile_column(str(name), df[name], max_categories=max_categories)
        profiles.append(cp)
        if column is None:
            identifiers.append(cp.name)
        else:
            columns.append(column)
    if not columns:
        raise DomainError("Every column looks like an identifier; there is nothing to synthesize.")
    domain = Domain(tuple(columns), provenance="inferred", identifiers=tuple(identifiers))
    return Profile(domain, tuple(profiles), len(df), df)


# -- plots ----------------------------------------------------------------------------------------
