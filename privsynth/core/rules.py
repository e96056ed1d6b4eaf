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
:class:`DomainError` naming the rule. The parser (:mod:`privsynth.core.rule_parser`) bounds a
rule's length, depth and size, and parsed rules are cached.

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

import operator
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core.errors import DomainError
from privsynth.core.rule_parser import Node, parse

if TYPE_CHECKING:
    from privsynth.core.domain import Domain

__all__ = ["Rule", "parse_rules", "apply_rules", "violation_counts"]

_ORDER: dict[str, Callable[[Any, Any], Any]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_Truth = Callable[[pd.DataFrame], "tuple[np.ndarray, np.ndarray]"]  # -> (true, known)
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
    _truth: _Truth
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


def _raw(series: pd.Series) -> np.ndarray:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.astype(object).to_numpy()
    return series.to_numpy()


def _all(parts: list) -> "tuple[np.ndarray, np.ndarray]":
    """Three-valued ``and``: false wins over unknown."""
    true = np.logical_and.reduce([t for t, _ in parts])
    false = np.logical_or.reduce([k & ~t for t, k in parts])
    return true, true | false


def _any(parts: list) -> "tuple[np.ndarray, np.ndarray]":
    """Three-valued ``or``: true wins over unknown."""
    true = np.logical_or.reduce([t for t, _ in parts])
    false = np.logical_and.reduce([k & ~t for t, k in parts])
    return true, true | false


@dataclass(frozen=True)
class _Value:
    """A compiled value: ``kind`` is ``number`` (a float array, NaN where missing), ``column``
    (a categorical column's values), ``constant`` or ``list``."""

    kind: str
    get: Callable[[pd.DataFrame], Any] | None = None
    column: Any = None
    constant: Any = None


class _Compiler:
    def __init__(self, domain: "Domain", source: Any) -> None:
        self.domain, self.source = domain, source
        self.used: set[str] = set()

    def fail(self, message: str) -> DomainError:
        return DomainError(f"Rule {self.source!r}: {message}")

    # -- values ------------------------------------------------------------------------------
    def value(self, node: Node) -> _Value:
        if node.kind in ("number", "string", "bool"):
            return _Value("constant", constant=node.value)
        if node.kind == "list":
            return _Value("list", constant=tuple(t.value for t in node.terms))
        if node.kind == "name":
            col = self.column(node.value)
            name: str = col.name
            if col.kind == "numeric":
                return _Value("number", lambda df: df[name].to_numpy(dtype=float))
            return _Value("column", lambda df: _raw(df[name]), column=col)
        if node.kind == "neg":
            inner = self.number(node.terms[0])
            return _Value("number", lambda df: -inner(df))
        if node.kind in ("sum", "product"):
            terms = [self.number(t) for t in node.terms]
            ops = [_ARITH[o] for o in node.ops]

            def arith(df: pd.DataFrame) -> np.ndarray:
                out = np.asarray(terms[0](df), dtype=float)
                with np.errstate(divide="ignore", invalid="ignore"):
                    for op, term in zip(ops, terms[1:]):
                        out = op(out, np.asarray(term(df), dtype=float))
                return out

            return _Value("number", arith)
        raise self.fail(f"a {node.kind!r} expression where a value belongs; compare it (e.g. 'a >= 1') instead.")

    def number(self, node: Node) -> Callable[[pd.DataFrame], Any]:
        v = self.value(node)
        if v.kind == "constant" and isinstance(v.constant, (int, float)) and not isinstance(v.constant, bool):
            value = float(v.constant)
            return lambda df: value
        if v.kind == "number":
            return v.get  # type: ignore[return-value]
        what = f"categorical column {v.column.name!r}" if v.kind == "column" else f"{v.constant!r}"
        raise self.fail(f"arithmetic (+ - * /) needs numbers and numeric columns, not {what}.")

    def column(self, name: str) -> Any:
        if name not in self.domain:
            source = str(self.source)
            quoted = [c for c in self.domain.names if not c.isidentifier() and c in source and f"`{c}`" not in source]
            hint = f"; write names that are not Python names in backticks: `{quoted[0]}`" if quoted else ""
            raise self.fail(f"names column {name!r}, which is not in the domain (columns: {list(self.domain.names)}){hint}.")
        self.used.add(name)
        return self.domain[name]

    # -- truth ---------------------------------------------------------------------------------
    def truth(self, node: Node) -> _Truth:
        if node.kind in ("and", "or"):
            parts = [self.truth(t) for t in node.terms]
            combine = _all if node.kind == "and" else _any
            return lambda df: combine([p(df) for p in parts])
        if node.kind == "not":
            inner = self.truth(node.terms[0])

            def negate(df: pd.DataFrame) -> "tuple[np.ndarray, np.ndarray]":
                true, known = inner(df)
                return known & ~true, known

            return negate
        if node.kind == "if":
            condition, then = self.truth(node.terms[0]), self.truth(node.terms[1])

            def implies(df: pd.DataFrame) -> "tuple[np.ndarray, np.ndarray]":
                true, known = condition(df)
                return _any([(known & ~true, known), then(df)])

            return implies
        if node.kind == "bool":
            value = bool(node.value)
            return lambda df: (np.full(len(df), value), np.ones(len(df), dtype=bool))
        if node.kind == "compare":
            values = [self.value(t) for t in node.terms]
            pairs = [self.pair(a, op, b) for a, op, b in zip(values, node.ops, values[1:])]
            return pairs[0] if len(pairs) == 1 else (lambda df: _all([p(df) for p in pairs]))
        raise self.fail("a rule must be a comparison (==, !=, <, <=, >, >=, in), combined with and/or/not; "
                        "e.g. 'age >= 18' or \"sex in ['F', 'M']\".")

    def pair(self, a: _Value, op: str, b: _Value) -> _Truth:
        if op in ("in", "not in"):
            if b.kind not in ("list", "constant") or a.kind == "list":
                raise self.fail(f"'{op}' needs a list of constants on its right, e.g. \"sex in ['F', 'M']\".")
            items = b.constant if b.kind == "list" else (b.constant,)
            getter = self.operand(a, items)
            inside = op == "in"

            def member(df: pd.DataFrame) -> "tuple[np.ndarray, np.ndarray]":
                values = getter(df)
                known = ~pd.isna(values) if np.ndim(values) else np.full(len(df), not pd.isna(values))
                found = pd.Series(np.broadcast_to(values, len(df))).isin(list(items)).to_numpy()
                return known & (found if inside else ~found), known

            return member
        if b.kind == "list" or a.kind == "list":
            raise self.fail(f"a list belongs on the right of 'in', not of {op!r}.")
        if a.kind == "column" or b.kind == "column":
            return self.categorical_pair(a, op, b)
        left, right = self.operand(a, ()), self.operand(b, ())
        if op in _ORDER and any(v.kind == "constant" and isinstance(v.constant, str) for v in (a, b)):
            raise self.fail(f"{op!r} compares numbers; text has no order here.")
        if any(v.kind == "constant" and isinstance(v.constant, str) for v in (a, b)) and "number" in (a.kind, b.kind):
            raise self.fail("compares a number with text, which is never equal; quote nothing or fix the column.")
        compare = _ORDER.get(op) or (operator.eq if op == "==" else operator.ne)
        return _compared(left, right, compare)

    def operand(self, v: _Value, items: Sequence[Any]) -> Callable[[pd.DataFrame], Any]:
        if v.kind == "column":
            unknown = [x for x in items if x not in v.column.categories]
            if unknown:
                raise self.fail(f"{unknown[0]!r} is not a category of {v.column.name!r} (its categories: "
                                f"{list(v.column.categories)[:20]}); a condition on it could never hold.")
            return v.get  # type: ignore[return-value]
        if v.kind == "number":
            if any(isinstance(x, str) for x in items):
                raise self.fail("a numeric value compared with text, which is never equal.")
            return v.get  # type: ignore[return-value]
        value = v.constant
        return lambda df: value

    def categorical_pair(self, a: _Value, op: str, b: _Value) -> _Truth:
        col = a.column if a.kind == "column" else b.column
        other = b if a.kind == "column" else a
        if other.kind == "constant" and other.constant not in col.categories:
            raise self.fail(f"{other.constant!r} is not a category of {col.name!r} (its categories: {list(col.categories)[:20]}); "
                            "a condition on it could never hold.")
        if other.kind == "number":
            raise self.fail(f"categorical column {col.name!r} compared with a number expression; compare it with one of its "
                            "categories.")
        if op in _ORDER:
            both = [v for v in (a, b) if v.kind == "column"]
            if col.kind != "ordinal" or any(v.column.categories != col.categories for v in both):
                raise self.fail(f"{op!r} needs an order, and {col.name!r} is categorical; use == or in (or declare it "
                                "ordinal).")
            rank = {c: float(i) for i, c in enumerate(col.categories)}

            def ranked(v: _Value) -> Callable[[pd.DataFrame], Any]:
                if v.kind == "constant":
                    value = rank[v.constant]
                    return lambda df: value
                get = v.get
                return lambda df: pd.Series(get(df)).map(rank).to_numpy(dtype=float)  # type: ignore[misc]

            return _compared(ranked(a), ranked(b), _ORDER[op])
        compare = operator.eq if op == "==" else operator.ne
        return _compared(self.operand(a, ()), self.operand(b, ()), compare)


def _compared(left: Callable[[pd.DataFrame], Any], right: Callable[[pd.DataFrame], Any],
              compare: Callable[[Any, Any], Any]) -> _Truth:
    def run(df: pd.DataFrame) -> "tuple[np.ndarray, np.ndarray]":
        a, b = left(df), right(df)
        known = ~np.asarray(pd.isna(a), dtype=bool) & ~np.asarray(pd.isna(b), dtype=bool)
        known = np.broadcast_to(known, len(df))
        with np.errstate(invalid="ignore"):
            result = np.broadcast_to(np.asarray(compare(a, b), dtype=bool), len(df))
        return known & result, known.copy()

    return run


def _parse_text(source: str, domain: "Domain", strict: bool) -> Rule:
    tree = parse(source)
    compiler = _Compiler(domain, source)
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
        rows = zip(*(_raw(df[c]) for c in columns))
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
