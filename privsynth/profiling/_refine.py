"""A domain refined with DP (new bins, merged categories) that carries the charges of the refinement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from privsynth.core.domain import Column, Domain
from privsynth.core.rng import PrivateRandomness
from privsynth.data.sources import open_table
from privsynth.data.table import Table
from privsynth.privacy.accountants import get_accountant
from privsynth.privacy.budget import Budget
from privsynth.privacy.ledger import Ledger

__all__ = ["Refinement", "refined_domain"]


@dataclass
class Refinement:
    """What a DP refinement counts with: the records under the domain it counts on (checked in the
    engine), its own ledger at ``epsilon`` (pure DP) and a generator on its private stream."""

    table: Table
    accountant: Any
    ledger: Ledger
    randomness: PrivateRandomness
    rng: np.random.Generator

    @classmethod
    def open(cls, data: Any, counting: Domain, *, epsilon: float, accountant: str, random_state: Any, stream: int,
             clip: bool = False) -> "Refinement":
        """``clip``: count numbers beyond the bounds in the end cells (a DP domain's bounds are
        estimates, and a fit on it clips too) instead of refusing them."""
        if isinstance(data, Table):  # opened under another domain (the one being refined): same engine, same options
            table = data.reopened(counting, clip=clip or bool(getattr(data, "clip", False)))
        else:
            table = open_table(data, counting, clip=clip)
        table.check()
        acc = get_accountant(accountant)
        randomness = PrivateRandomness(random_state)
        return cls(table, acc, Ledger(Budget(epsilon=float(epsilon)), accountant=acc), randomness,
                   randomness.generator("domain", stream))

    def domain(self, domain: Domain, refined: Mapping[str, Column], note: str) -> Domain:
        """``domain`` with the ``refined`` columns, carrying this refinement's charges (:func:`refined_domain`)."""
        return refined_domain(domain, refined, self.ledger, self.accountant, note, self.randomness)


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
