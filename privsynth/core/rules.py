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

Column names that are not Python names go in backticks: ``"`hours-per-week` <= 80"``. A rule
does not apply to a record where one of its columns is missing.

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

import ast
import operator
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core.errors import DomainError

if TYPE_CHECKING:
    from privsynth.core.domain import Domain

__all__ = ["Rule", "parse_rules", "apply_rules", "violation_counts"]

_CONDITIONAL = re.compile(r"^\s*if\s+(?P<cond>.+?)\s+then\s+(?P<then>.+?)\s*$", re.S)
_BACKTICK = re.compile(r"`([^`]+)`")
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH: dict[type, Callable[[Any, Any], Any]] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                                                 ast.Div: operator.truediv}


@dataclass(frozen=True)
class Rule:
    """One parsed rule.

    Attributes:
        source: The rule as declared (a string or a mapping).
        kind: ``"condition"``, ``"formula"`` or ``"combinations"``.
        columns: The columns it reads.
        target: For a formula, the derived column.
    """

    source: Any
    kind: str
    columns: tuple
    target: str | None
    _check: Callable[[pd.DataFrame], np.ndarray]
    _derive: Callable[[pd.DataFrame], np.ndarray] | None = None

    def __str__(self) -> str:
        if isinstance(self.source, Mapping):
            return f"{list(self.source['columns'])} in {len(self.source['combinations'])} fixed combinations"
        return str(self.source)

    def applies(self, df: pd.DataFrame) -> np.ndarray:
        """Records where every column of the rule is present."""
        return np.asarray(df[list(self.columns)].notna().all(axis=1), dtype=bool)

    def violations(self, df: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the records that break the rule."""
        ok = np.asarray(self._check(df), dtype=bool)
        return ~ok & self.applies(df)

    def derive(self, df: pd.DataFrame, domain: "Domain") -> pd.DataFrame:
        """For a formula: ``df`` with the target recomputed (rounded for an integer column); else ``df``."""
        if self._derive is None or self.target is None:
            return df
        out = df.copy()
        values = np.asarray(self._derive(out), dtype=float)
        if getattr(domain[self.target], "integer", False):
            values = np.round(values)
        present = self.applies(out)
        out[self.target] = np.where(present, values, out[self.target].to_numpy(dtype=float))
        return out


def _names(text: str, domain: "Domain") -> tuple[str, dict[str, str]]:
    """Replace backticked names by placeholders that Python parses."""
    mapping: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        key = f"__col{len(mapping)}__"
        mapping[key] = m.group(1)
        return key

    return _BACKTICK.sub(sub, text), mapping


def _compile(text: str, domain: "Domain", source: Any) -> tuple[Callable[[pd.DataFrame], Any], set]:
    code, mapping = _names(text, domain)
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError:
        raise DomainError(f"Rule {source!r} is not a valid expression; write e.g. 'age >= 18', 'start <= end', "
                          "\"if a == 'x' then b in ['y', 'z']\" or 'total = a + b' (backticks around names like `a-b`).") from None
    used: set = set()

    def build(node: ast.AST) -> Callable[[pd.DataFrame], Any]:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Name):
            name = mapping.get(node.id, node.id)
            if name not in domain:
                quoted = [c for c in domain.names if not c.isidentifier() and c in str(source) and f"`{c}`" not in str(source)]
                hint = f"; write names that are not Python names in backticks: `{quoted[0]}`" if quoted else ""
                raise DomainError(f"Rule {source!r} names column {name!r}, which is not in the domain "
                                  f"(columns: {list(domain.names)}){hint}.")
            used.add(name)
            return lambda df: _values(df[name])
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            value = node.value
            return lambda df: value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [build(e) for e in node.elts]
            if not all(isinstance(e, ast.Constant) for e in node.elts):
                raise DomainError(f"Rule {source!r}: a list may hold constants only.")
            return lambda df: [f(df) for f in items]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            inner = build(node.operand)
            return (lambda df: ~np.asarray(inner(df), dtype=bool)) if isinstance(node.op, ast.Not) else (lambda df: -inner(df))
        if isinstance(node, ast.BoolOp):
            parts = [build(v) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            return lambda df: combine.reduce([np.asarray(p(df), dtype=bool) for p in parts])
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            left, right, op = build(node.left), build(node.right), _ARITH[type(node.op)]
            return lambda df: op(np.asarray(left(df), dtype=float), np.asarray(right(df), dtype=float))
        if isinstance(node, ast.Compare):
            terms = [build(node.left)] + [build(c) for c in node.comparators]
            ops = node.ops

            def compare(df: pd.DataFrame) -> np.ndarray:
                result = np.ones(len(df), dtype=bool)
                values = [t(df) for t in terms]
                for op, a, b in zip(ops, values, values[1:]):
                    if isinstance(op, (ast.In, ast.NotIn)):
                        inside = pd.Series(a).isin(b if isinstance(b, list) else [b]).to_numpy()
                        part = inside if isinstance(op, ast.In) else ~inside
                    elif type(op) in _COMPARE:
                        with np.errstate(invalid="ignore"):
                            part = np.asarray(_COMPARE[type(op)](a, b), dtype=bool)
                    else:
                        raise DomainError(f"Rule {source!r}: comparison {type(op).__name__} is not supported.")
                    result &= part
                return result

            return compare
        raise DomainError(f"Rule {source!r}: {type(node).__name__} is not allowed in a rule (use columns, constants, lists, "
                          "comparisons, in, and/or/not, + - * /).")

    return build(tree), used


def _values(series: pd.Series) -> np.ndarray:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.astype(object).to_numpy()
    return series.to_numpy()


def _parse_one(source: Any, domain: "Domain") -> Rule:
    if isinstance(source, Mapping):
        keys = set(source)
        if keys != {"columns", "combinations"}:
            raise DomainError(f"Rule {dict(source)!r}: a mapping rule takes exactly 'columns' and 'combinations'.")
        columns = tuple(str(c) for c in source["columns"])
        for c in columns:
            if c not in domain:
                raise DomainError(f"Rule {dict(source)!r} names column {c!r}, which is not in the domain.")
        combos = {tuple(c) for c in source["combinations"]}
        if any(len(c) != len(columns) for c in combos) or not combos:
            raise DomainError(f"Rule {dict(source)!r}: every combination needs one value per column.")

        def check(df: pd.DataFrame) -> np.ndarray:
            rows = zip(*(_values(df[c]) for c in columns))
            return np.fromiter((tuple(r) in combos for r in rows), dtype=bool, count=len(df))

        return Rule(source, "combinations", columns, None, check)
    if not isinstance(source, str) or not source.strip():
        raise DomainError(f"A rule must be a non-empty string or a {{columns, combinations}} mapping, got {source!r}.")
    m = _CONDITIONAL.match(source)
    if m:
        cond, c_used = _compile(m.group("cond"), domain, source)
        then, t_used = _compile(m.group("then"), domain, source)
        return Rule(source, "condition", tuple(sorted(c_used | t_used)), None,
                    lambda df: ~np.asarray(cond(df), dtype=bool) | np.asarray(then(df), dtype=bool))
    formula = re.match(r"^\s*(`[^`]+`|[A-Za-z_]\w*)\s*=(?!=)\s*(?P<rhs>.+)$", source)
    if formula:
        target = formula.group(1).strip("`")
        if target not in domain or domain[target].kind != "numeric":
            raise DomainError(f"Rule {source!r}: the left side of a formula must be a numeric column of the domain.")
        rhs, used = _compile(formula.group("rhs"), domain, source)

        def check_formula(df: pd.DataFrame) -> np.ndarray:
            return np.isclose(df[target].to_numpy(dtype=float), np.asarray(rhs(df), dtype=float), rtol=1e-9, atol=1e-9)

        return Rule(source, "formula", tuple(sorted(used | {target})), target, check_formula,
                    lambda df: np.asarray(rhs(df), dtype=float))
    condition, used = _compile(source, domain, source)
    return Rule(source, "condition", tuple(sorted(used)), None, condition)


def parse_rules(rules: Sequence[Any], domain: "Domain") -> list[Rule]:
    """Parse the domain's rules; a malformed one raises :class:`DomainError` naming it."""
    return [_parse_one(r, domain) for r in rules]


def apply_rules(df: pd.DataFrame, domain: "Domain") -> tuple[pd.DataFrame, np.ndarray]:
    """Derive formula targets, then return ``(df, ok)`` with ``ok`` marking records that keep
    every rule (including the domain's bounds for derived columns)."""
    rules = parse_rules(domain.rules, domain)
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
