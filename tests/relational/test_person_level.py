"""The attacker's view at person level: neighbouring databases differ by one person and all their
linked rows. The certificate must not tell them apart, and an empirical audit of the released
model on a tiny database must stay below the claimed epsilon -- while the same audit catches a
synthesizer that accounts the child table per row instead of per person."""

import numpy as np
import pandas as pd
import pytest

from privsynth.core.domain import Categorical, Domain
from privsynth.evaluation.audit import clopper_pearson, epsilon_lower_bound
from privsynth.relational import ForeignKey, RelationalSynthesizer, Schema, TableSpec
from privsynth.relational.schema import Schema as SchemaClass

pytestmark = pytest.mark.filterwarnings("ignore::privsynth.synthesizers.forecast.NoiseDominatedWarning")  # tiny tables, on purpose
BOUND = 40
PEOPLE = Domain((Categorical("kind", ("a", "b")),))
VISITS = Domain((Categorical("ward", ("common", "other", "rare")),))
SCHEMA = Schema((TableSpec("people", "pid", PEOPLE),
                 TableSpec("visits", "vid", VISITS, parent=ForeignKey("pid", "people"), max_per_parent=BOUND)), person="people")


def database(extra_children: int | None):
    """Twenty people with one or two ordinary visits; ``extra_children`` adds one more person with
    that many visits, all in the rare ward (``None``: no extra person)."""
    people = pd.DataFrame({"pid": range(1, 21), "kind": ["a", "b"] * 10})
    visits = pd.DataFrame({"vid": range(1, 31), "pid": list(range(1, 21)) + list(range(1, 11)), "ward": ["common", "other"] * 15})
    if extra_children is not None:
        people = pd.concat([people, pd.DataFrame({"pid": [99], "kind": ["a"]})], ignore_index=True)
        extra = pd.DataFrame({"vid": range(100, 100 + extra_children), "pid": [99] * extra_children, "ward": ["rare"] * extra_children})
        visits = pd.concat([visits, extra], ignore_index=True)
    return {"people": people, "visits": visits}


@pytest.mark.parametrize("children", [0, 1, BOUND])
def test_the_certificate_is_the_same_with_or_without_one_person(children):
    fit = lambda tables: RelationalSynthesizer(epsilon=1.0, synthesizer="independent", random_state=0).fit(tables, SCHEMA)  # noqa: E731
    a, b = fit(database(None)).certificate_, fit(database(children)).certificate_
    assert [(e.label, e.event) for e in a.entries] == [(e.label, e.event) for e in b.entries]
    assert a.parameters == b.parameters and a.spent == b.spent and a.assumptions == b.assumptions


def rare_share(tables, seed: int) -> float:
    model = RelationalSynthesizer(epsilon=1.0, synthesizer="independent", random_state=seed).fit(tables, SCHEMA)
    ward = model.models_["visits"].marginals_[0]  # the released model's DP distribution of the visits' ward
    return float(ward[2])


def audit(trials: int) -> float:
    """Epsilon lower bound of a threshold test on the rare ward's share (threshold chosen on the
    first half of the trials, rates measured on the second; 95% Clopper-Pearson)."""
    seeds = np.random.SeedSequence(2026).generate_state(4 * trials)
    out = [rare_share(database(None), int(s)) for s in seeds[:trials]]
    inn = [rare_share(database(BOUND), int(s)) for s in seeds[trials:2 * trials]]
    half = trials // 2
    candidates = np.quantile(np.concatenate([out[:half], inn[:half]]), np.linspace(0.05, 0.95, 19))

    def score(t, o, i):
        return epsilon_lower_bound(clopper_pearson(int(np.sum(np.array(i) > t)), len(i), 0.95),
                                   clopper_pearson(int(np.sum(np.array(o) > t)), len(o), 0.95), 1e-6)

    best = max(candidates, key=lambda t: score(t, out[:half], inn[:half]))
    return score(best, out[half:], inn[half:])


def test_an_audit_of_the_child_table_stays_below_the_claim_and_catches_row_level_accounting(monkeypatch):
    honest = audit(100)  # measured 0.0
    assert honest <= 1.0
    # the same synthesizer, told that one person holds one visit (its noise calibrated per row):
    monkeypatch.setattr(SchemaClass, "rows_per_person", lambda self, name: 1)
    broken = audit(100)  # measured 1.99
    assert broken > 1.0, (honest, broken)


@pytest.mark.parametrize("children", [0, 1, BOUND])
def test_the_model_file_has_the_same_structure_with_or_without_one_person(children):
    """Every member, JSON key and value type, array name, shape and dtype of the database model
    file, and its whole certificate, are the same for neighbouring databases fitted with the same
    secret randomness: nothing in it branches on an un-noised value."""
    from privsynth.testing import artifact_structure

    fit = lambda tables: RelationalSynthesizer(epsilon=0.01, synthesizer="independent", random_state=0).fit(tables, SCHEMA)  # noqa: E731
    assert artifact_structure(fit(database(None))) == artifact_structure(fit(database(children)))
