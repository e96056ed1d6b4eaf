"""A domain refined with DP (new bins, merged categories) that carries the charges of the refinement."""

from __future__ import annotations

from typing import Any, Mapping

from privsynth.core.domain import Column, Domain
from privsynth.core.rng import PrivateRandomness
from privsynth.privacy.ledger import Ledger

__all__ = ["refined_domain"]


def refined_domain(domain: Domain, refined: Mapping[str, Column], ledger: Ledger, accountant: Any, note: str,
                   randomness: PrivateRandomness) -> Domain:
    """``domain`` with the ``refined`` columns, ``provenance="dp"``: its estimation block lists the
    refinement's (pure DP) charges after those of ``domain``'s own estimation, if it has one, and
    states ``note`` among its assumptions."""
    spent = ledger.spent().epsilon  # pure DP only: the sum of the charges
    before = domain.estimation if domain.provenance == "dp" else None
    estimation = {
        "accountant": (before or {}).get("accountant", accountant.to_dict()),
        # a DP domain refined again: its (epsilon, delta) and the refinement's compose (basic composition)
        "epsilon": float(before["epsilon"]) + spent if before else spent,
        "delta": float(before["delta"]) if before else 0.0,
        "entries": [*(before["entries"] if before else []), *(e.to_dict() for e in ledger.entries)],
        "assumptions": [*(before.get("assumptions", []) if before else []), note, *randomness.assumptions()],
    }
    if before and before.get("dropped"):
        estimation["dropped"] = list(before["dropped"])
    columns = tuple(refined.get(c.name, c) for c in domain.columns)
    return Domain(columns, provenance="dp", identifiers=domain.identifiers, rules=domain.rules, estimation=estimation,
                  source=domain.source)
