"""Public business rules declared in the domain, checked on tables and enforced when sampling.

A rule is public knowledge about valid records (never read off the private data), written in
the domain file's ``rules:`` list:

* a condition on columns: ``"age >= 18"`` (a range tighter than the bounds),
  ``"start <= end"`` (an inequality between columns), ``"18 <= age <= 65"``,
  ``"sex in ['Female', 'Male']"``, combined with ``and`` / ``or`` / ``not``;
* a conditional rule: ``"if relationship == 'Husband' then sex == 'Male'"``;
* a formula: ``"total = a + b"`` (one ``=``; ``+ - * /``): the left column is *derived*, so a
  sampled record gets ``total`` recomputed from ``a`` and ``b`` (rounded for an integer column);
* fixed combinations, as a mapping:
  ``{columns: [country, currency], combinations: [[US, USD], [UK, GBP]]}``.

Column names that are not Python names go in backticks: ``"`hours-per-week` <= 80"``. Rules are
checked against the domain when parsed: an unknown column, a category the column does not have
(``sex == 'Mail'``), arithmetic on a categorical column, or an order on an unordered one is a
:class:`DomainError` naming the rule (:mod:`privsynth.core.rule_compiler`). The parser
(:mod:`privsynth.core.rule_parser`) bounds a rule's length, depth and size, and parsed rules are
cached.

**Missing values** follow SQL's three-valued logic: a comparison with a missing value is
*unknown*; ``and`` / ``or`` / ``not`` combine unknowns as SQL does. A domain rule is broken only
when it is *false* (like a ``CHECK`` constraint: a record with a missing age keeps
``age >= 18``); a sampling *condition* (``sample(conditions=...)``, ``where=``) keeps a record
only when it is *true* (like ``WHERE``: ``age >= 65`` never returns a missing age).

Enforcement is post-processing of the synthesizer's output (no privacy cost): formulas are
applied, then records that break a rule are rejected and replaced by new draws
(:meth:`privsynth.synthesizers.base.Synthesizer.sample`).

Example:
    >>> import pandas as pd
    >>> from privsynth.core.domain import Domain, Numeric
    >>> d = Domain((Numeric("start", 0, 10), Numeric("end", 0, 10)), rules=("start <= end",))
    >>> [r.violations(pd.DataFrame({"start": [1, 5], "end": [2, 3]})).tolist() for r in parse_rules(d.rules, d)]
    [[False, True]]
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core.errors import DomainError
from privsynth.core.rule_compiler import Compiler, Truth, raw_values
from privsynth.core.rule_parser import parse

if TYPE_CHECKING:
    from privsynth.core.domain import Domain

__all__ = ["Rule", "parse_rules", "apply_rules", "violation_counts"]

_CACHE: "OrderedDict[tuple, Rule]" = OrderedDict()
_CACHE_SIZE = 2048
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Rule:
    """One parsed rule.

    Attributes:
        source: The rule as declared (a string or a mapping).
        kind: ``"condition"``, ``"formula"`` or ``"combinations"``.
        columns: The columns it reads.
        target: For a formula, the derived column.
        strict: A sampling condition: a record is kept only where the rule is *true* (unknown,
            from a missing value, counts as broken). Otherwise only *false* breaks it.
    """

    source: Any
    kind: str
    columns: tuple
    target: str | None
    _truth: Truth
    _derive: Callable[[pd.DataFrame], np.ndarray] | None = None
    strict: bool = False

    def __str__(self) -> str:
        if isinstance(self.source, Mapping):
            return f"{list(self.source['columns'])} in {len(self.source['combinations'])} fixed combinations"
        return str(self.source)

    def violations(self, df: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the records that break the rule (see ``strict``)."""
        true, known = self._truth(df)
        return ~true if self.strict else known & ~true

    def derive(self, df: pd.DataFrame, domain: "Domain") -> pd.DataFrame:
        """For a formula: ``df`` with the target recomputed (rounded for an integer column); else ``df``."""
        if self._derive is None or self.target is None:
            return df
        out = df.copy()
        values = np.asarray(self._derive(out), dtype=float)
        if getattr(domain[self.target], "integer", False):
            values = np.round(values)
        present = np.asarray(out[[c for c in self.columns if c != self.target]].notna().all(axis=1), dtype=bool)
        out[self.target] = np.where(present, values, out[self.target].to_numpy(dtype=float))
        return out


def _parse_text(source: str, domain: "Domain", strict: bool) -> Rule:
    tree = parse(source)
    compiler = Compiler(domain, source)
    if tree.kind == "formula":
        target = tree.value
        if target not in domain or domain[target].kind != "numeric":
            raise compiler.fail("the left side of a formula must be a numeric column of the domain.")
        rhs = compiler.number(tree.terms[0])
        columns = tuple(sorted(compiler.used | {target}))

        def formula(df: pd.DataFrame) -> "tuple[np.ndarray, np.ndarray]":
            expected = np.broadcast_to(np.asarray(rhs(df), dtype=float), len(df))
            actual = df[target].to_numpy(dtype=float)
            known = ~np.isnan(actual) & ~np.isnan(expected)
            return known & np.isclose(actual, expected, rtol=1e-9, atol=1e-9), known

        return Rule(source, "formula", columns, target, formula, lambda df: np.asarray(rhs(df), dtype=float), strict=strict)
    truth = compiler.truth(tree)
    return Rule(source, "condition", tuple(sorted(compiler.used)), None, truth, strict=strict)


def _parse_mapping(source: Mapping, domain: "Domain", strict: bool) -> Rule:
    if set(source) != {"columns", "combinations"}:
        raise DomainError(f"Rule {dict(source)!r}: a mapping rule takes exactly 'columns' and 'combinations'.")
    columns = tuple(str(c) for c in source["columns"])
    for c in columns:
        if c not in domain:
            raise DomainError(f"Rule {dict(source)!r} names column {c!r}, which is not in the domain.")
    try:
        combos = {tuple(c) for c in source["combinations"]}
    except TypeError:
        raise DomainError(f"Rule {dict(source)!r}: combinations must be lists of values, one per column.") from None
    if any(len(c) != len(columns) for c in combos) or not combos:
        raise DomainError(f"Rule {dict(source)!r}: every combination needs one value per column.")

    def truth(df: pd.DataFrame) -> "tuple[np.ndarray, np.ndarray]":
        known = np.asarray(df[list(columns)].notna().all(axis=1), dtype=bool)
        rows = zip(*(raw_values(df[c]) for c in columns))
        found = np.fromiter((tuple(r) in combos for r in rows), dtype=bool, count=len(df))
        return known & found, known

    return Rule(source, "combinations", columns, None, truth, strict=strict)


def _domain_key(domain: "Domain") -> tuple:
    return tuple((c.name, c.kind, getattr(c, "categories", None)) for c in domain.columns)


def _parse_one(source: Any, domain: "Domain", strict: bool) -> Rule:
    if isinstance(source, Mapping):
        try:
            key: Any = ("mapping", repr(sorted((str(k), repr(v)) for k, v in source.items())))
        except Exception:  # noqa: BLE001 - an odd mapping is parsed (and refused) uncached
            return _parse_mapping(source, domain, strict)
        parse_ = _parse_mapping
    elif isinstance(source, str) and source.strip():
        key, parse_ = ("text", source), _parse_text  # type: ignore[assignment]
    else:
        raise DomainError(f"A rule must be a non-empty string or a {{columns, combinations}} mapping, got {source!r}.")
    full = (key, _domain_key(domain), strict)
    with _CACHE_LOCK:
        rule = _CACHE.get(full)
        if rule is not None:
            _CACHE.move_to_end(full)
            return rule
    rule = parse_(source, domain, strict)  # type: ignore[arg-type]
    with _CACHE_LOCK:
        _CACHE[full] = rule
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return rule


def parse_rules(rules: Sequence[Any], domain: "Domain", *, strict: bool = False) -> list[Rule]:
    """Parse rules against the domain (cached); a malformed one raises :class:`DomainError`
    naming it. ``strict``: sampling conditions (only *true* keeps a record)."""
    return [_parse_one(r, domain, strict) for r in rules]


def apply_rules(df: pd.DataFrame, domain: "Domain", conditions: Sequence[Any] = ()) -> tuple[pd.DataFrame, np.ndarray]:
    """Derive formula targets, then return ``(df, ok)`` with ``ok`` marking records that keep
    every rule of the domain (including its bounds for derived columns) and meet every
    sampling ``condition`` (true, not unknown)."""
    rules = parse_rules(domain.rules, domain) + parse_rules(conditions, domain, strict=True)
    for rule in rules:
        df = rule.derive(df, domain)
    ok = np.ones(len(df), dtype=bool)
    for rule in rules:
        ok &= ~rule.violations(df)
        if rule.target is not None:
            col = domain[rule.target]
            values = df[rule.target].to_numpy(dtype=float)
            ok &= np.isnan(values) | ((values >= col.lower) & (values <= col.upper))  # type: ignore[union-attr]
    return df, ok


def violation_counts(df: pd.DataFrame, domain: "Domain") -> pd.DataFrame:
    """One row per rule: the rule, its kind, and how many records of ``df`` break it (and what share)."""
    rows = []
    for rule in parse_rules(domain.rules, domain):
        bad = rule.violations(df)
        rows.append({"rule": str(rule), "kind": rule.kind, "violations": int(bad.sum()),
                     "rate": float(bad.mean()) if len(df) else 0.0})
    return pd.DataFrame(rows, columns=["rule", "kind", "violations", "rate"])
