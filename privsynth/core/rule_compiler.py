"""Compiling a parsed rule (:mod:`privsynth.core.rule_parser`) against a domain into vectorized
checks on a DataFrame: each condition becomes a function returning ``(true, known)`` arrays (SQL's
three-valued logic: a comparison with a missing value is unknown), each arithmetic term a function
returning its values. Type errors -- an unknown column or category, arithmetic on a category, an
order on an unordered column -- are :class:`~privsynth.core.errors.DomainError` naming the rule.
Used by :mod:`privsynth.core.rules`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from privsynth.core.errors import DomainError
from privsynth.core.rule_parser import Node

if TYPE_CHECKING:
    from privsynth.core.domain import Domain

__all__ = ["Compiler", "Truth", "compared", "raw_values"]

_ORDER: dict[str, Callable[[Any, Any], Any]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
#: A compiled condition: records -> (true, known).
Truth = Callable[[pd.DataFrame], "tuple[np.ndarray, np.ndarray]"]


def raw_values(series: pd.Series) -> np.ndarray:
    """A column's values as a numpy array (a categorical column's as objects)."""
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


class Compiler:
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
            return _Value("column", lambda df: raw_values(df[name]), column=col)
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
    def truth(self, node: Node) -> Truth:
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

    def pair(self, a: _Value, op: str, b: _Value) -> Truth:
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
        return compared(left, right, compare)

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

    def categorical_pair(self, a: _Value, op: str, b: _Value) -> Truth:
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

            return compared(ranked(a), ranked(b), _ORDER[op])
        compare = operator.eq if op == "==" else operator.ne
        return compared(self.operand(a, ()), self.operand(b, ()), compare)


def compared(left: Callable[[pd.DataFrame], Any], right: Callable[[pd.DataFrame], Any],
              compare: Callable[[Any, Any], Any]) -> Truth:
    def run(df: pd.DataFrame) -> "tuple[np.ndarray, np.ndarray]":
        a, b = left(df), right(df)
        known = ~np.asarray(pd.isna(a), dtype=bool) & ~np.asarray(pd.isna(b), dtype=bool)
        known = np.broadcast_to(known, len(df))
        with np.errstate(invalid="ignore"):
            result = np.broadcast_to(np.asarray(compare(a, b), dtype=bool), len(df))
        return known & result, known.copy()

    return run
