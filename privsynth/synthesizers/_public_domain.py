"""What a fit takes from its domain besides the columns: identifier checks, the charges of a
DP-estimated domain, and the assumptions its certificate states.

The identifier check reads the private values, unlike everything else a fit decides: it is the
one deliberate exception to "no warning depends on the data", because its alternative is a
release of real identifiers. Its warning (or the CLI's refusal) goes to the data owner's console;
nothing of it is written to a model file, a certificate or a release.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import pandas as pd

from privsynth.core.domain import Categorical, Domain
from privsynth.core.errors import IdentifierWarning
from privsynth.data.table import FrameTable, Table
from privsynth.privacy.budget import Budget
from privsynth.privacy.ledger import Ledger, LedgerEntry

#: What a list of declared categories can reveal by itself (its values are published in the model file).
_CATEGORY_KINDS = ("person_name", "email", "ssn", "national_id", "phone", "street_address", "credit_card", "ip_address")
#: Below this many declared categories, a column's *values* cannot be a near-unique key of many people; its
#: category list is still checked (names, e-mails ... in any number).
_VALUE_CHECK_CATEGORIES = 50
#: Records of a table in an engine (DuckDB, Spark) whose values are checked.
_VALUE_CHECK_ROWS = 20_000


@lru_cache(maxsize=1024)
def _listed_identifier(name: str, categories: tuple):
    """A direct-identifier detection in a declared category list (public, so cached across fits)."""
    from privsynth.profiling.identifiers import detect_column

    listed = detect_column(pd.Series([str(c) for c in categories], name=name), name, max_values=500)
    return next((d for d in listed if d.kind in _CATEGORY_KINDS and d.confidence >= 0.5), None)


def suspected_identifiers(data: pd.DataFrame | Table, domain: Domain):
    """Direct-identifier detections among the columns a fit would synthesize (see
    :func:`privsynth.profiling.detect_identifiers`): on the declared categories of every
    categorical column, whatever its size (a model file lists them, so real names declared as
    categories are caught in any case), and on the values of numeric columns and of categorical
    ones with many categories (where a near-unique key can hide): all of them in memory, the
    first :data:`_VALUE_CHECK_ROWS` records of a table in an engine."""
    from privsynth.profiling.identifiers import detect_column

    if isinstance(data, Table):
        table = data
        data = None  # read from the engine only when a column needs its values checked
    out = []
    for col in domain:
        found = None
        if isinstance(col, Categorical) and len(col.categories) >= 2:
            found = _listed_identifier(col.name, tuple(col.categories))
        if found is None and (not isinstance(col, Categorical) or len(col.categories) >= _VALUE_CHECK_CATEGORIES):
            if data is None:
                data = table.to_frame() if isinstance(table, FrameTable) else table.head(_VALUE_CHECK_ROWS)
            found = next((d for d in detect_column(data[col.name], col.name, max_values=500) if d.direct and d.confidence >= 0.5),
                         None)
        if found is not None:
            out.append(found)
    return out


def identifier_message(detections, *, what: str) -> str:
    """One sentence naming every suspected column and its kind."""
    named = "; ".join(f"{d.column!r} looks like {d.label} (confidence {d.confidence:.2f}: {d.evidence})" for d in detections)
    return (f"{what}: {named}. A direct identifier copied into a domain's categories ends up in the release: declare it "
            "`role: identifier` in the domain file (it is then dropped), or remove it from the data.")


def warn_identifiers(data: pd.DataFrame | Table, domain: Domain, *, what: str) -> None:
    """Warn loudly (:class:`IdentifierWarning`) for each column that looks like a direct identifier."""
    found = suspected_identifiers(data, domain)
    if found:
        warnings.warn(identifier_message(found, what=what), IdentifierWarning, stacklevel=3)


def domain_estimation_entries(domain: Domain) -> list[LedgerEntry]:
    """The ledger entries of a DP-estimated domain (empty for a declared one)."""
    if domain.provenance != "dp":
        return []
    return [LedgerEntry.from_dict(e) for e in domain.estimation.get("entries", [])]


def estimation_budget(domain: Domain) -> Budget:
    """What the DP estimation of ``domain`` spent (zero for a declared one)."""
    if domain.provenance != "dp":
        return Budget(0.0, 0.0)
    return Budget(float(domain.estimation["epsilon"]), float(domain.estimation["delta"]))


def domain_prior(domain: Domain) -> dict[str, Any]:
    """What a fit on ``domain`` charges before its own plan, as keyword arguments of the plans'
    calibrations (``prior`` events, ``prior_budget``): empty for a declared domain."""
    spent = estimation_budget(domain)
    return {"prior": tuple(e.event for e in domain_estimation_entries(domain)), "prior_budget": (spent.epsilon, spent.delta)}


def holds_entries(ledger: Ledger, entries: list[LedgerEntry]) -> bool:
    """Whether ``ledger`` already charged ``entries`` (a DP domain estimated on this very ledger)."""
    held = [(e.label, e.event) for e in ledger.entries]
    return all(item in held for item in ((e.label, e.event) for e in entries))


def domain_assumptions(domain: Domain) -> tuple[str, ...]:
    """What the certificate assumes about the domain."""
    if domain.provenance == "dp":
        return ("domain estimated from the data with differential privacy (provenance dp): its charges are "
                "this certificate's first entries; column names are public, kinds declared or decided with DP (below)",
                *domain.estimation.get("assumptions", ()))
    declared = ("domain (categories, bounds, bins) is public metadata",)
    return (*declared, f"domain source: {domain.source}") if domain.source else declared
