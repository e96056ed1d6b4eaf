"""Business rules: parsing, checking, and enforcement when sampling (post-processing)."""

import numpy as np
import pandas as pd
import pytest

import privsynth as ps
from privsynth import Categorical, Domain, DomainError, Numeric, PrivsynthError
from privsynth.core.rules import apply_rules, parse_rules


@pytest.fixture(scope="module")
def domain():
    return Domain((Numeric("start", 0, 100, integer=True), Numeric("end", 0, 100, integer=True),
                   Numeric("a", 0, 50), Numeric("b", 0, 50), Numeric("total", 0, 100),
                   Categorical("rel", ("Husband", "Wife", "Child")), Categorical("sex", ("F", "M")),
                   Categorical("country", ("US", "UK")), Categorical("cur", ("USD", "GBP", "EUR"))),
                  rules=("start <= end", "if rel == 'Husband' then sex == 'M'", "total = a + b", "start >= 10",
                         {"columns": ["country", "cur"], "combinations": [["US", "USD"], ["UK", "GBP"]]}))


def frame(**cols):
    base = {"start": [20], "end": [30], "a": [1.0], "b": [2.0], "total": [3.0], "rel": ["Husband"], "sex": ["M"],
            "country": ["US"], "cur": ["USD"]}
    base.update({k: [v] for k, v in cols.items()})
    return pd.DataFrame(base)


@pytest.mark.parametrize("cols,broken", [
    ({}, []), ({"end": 10}, ["start <= end"]), ({"sex": "F"}, ["if rel == 'Husband' then sex == 'M'"]),
    ({"rel": "Wife", "sex": "F"}, []), ({"total": 4.0}, ["total = a + b"]), ({"start": 5, "end": 6}, ["start >= 10"]),
    ({"cur": "EUR"}, ["['country', 'cur'] in 2 fixed combinations"]),
])
def test_each_rule_kind(domain, cols, broken):
    rules = parse_rules(domain.rules, domain)
    df = frame(**cols)
    assert [str(r) for r in rules if r.violations(df)[0]] == broken


def test_missing_values_do_not_break_a_rule(domain):
    rule = parse_rules(["start <= end"], domain)[0]
    assert not rule.violations(pd.DataFrame({"start": [5.0], "end": [np.nan]}))[0]


def test_backticks_and_errors():
    d = Domain((Numeric("hours-per-week", 0, 99), Numeric("x", 0, 1)), rules=("`hours-per-week` <= 80",))
    assert parse_rules(d.rules, d)[0].violations(pd.DataFrame({"hours-per-week": [81.0], "x": [0.5]}))[0]
    for bad, match in [("nope >= 1", "not in the domain"), ("x >=", "not a valid expression"), ("__import__('os')", "not allowed"),
                       ("x = nope", "not in the domain"), ({"columns": ["x"]}, "exactly")]:
        with pytest.raises(DomainError, match=match):
            Domain((Numeric("x", 0, 1),), rules=(bad,))


def test_formula_is_derived(domain):
    df, ok = apply_rules(frame(total=99.0), domain)
    assert df["total"].iloc[0] == 3.0 and ok[0]


def test_rules_round_trip_through_files_and_model_files(domain, tmp_path):
    assert Domain.from_dict(domain.to_dict()) == domain
    path = domain.to_file(tmp_path / "d.yaml")
    assert Domain.from_file(path).rules == domain.rules


def test_sampling_keeps_every_rule(tmp_path):
    df, d = ps.datasets.make_census(3000, random_state=0)
    ruled = Domain.from_dict({**d.to_dict(), "rules": ["age >= 30", "if sex == 'Female' then age <= 60"]})
    synth = ps.synthesizers.PrivBayes(epsilon=1.0, random_state=0, progress=False).fit(df, ruled)
    out = synth.sample(4000, random_state=1)
    assert len(out) == 4000
    table = ps.evaluation.rule_violations(ruled, real=df, synthetic=out)
    assert table["synthetic"].tolist() == [0, 0] and table["real"].iloc[0] > 0
    loaded = ps.load(synth.save(tmp_path / "m.privsynth"))
    assert loaded.domain_.rules == ruled.rules
    assert (loaded.sample(1000, random_state=2)["age"] >= 30).all()


def test_an_impossible_rule_is_named():
    df, d = ps.datasets.make_census(1000, random_state=0)
    ruled = Domain.from_dict({**d.to_dict(), "rules": ["age < 0"]})
    synth = ps.synthesizers.IndependentMarginals(epsilon=1.0, random_state=0).fit(df, ruled)
    with pytest.raises(PrivsynthError, match="age < 0"):
        synth.sample(100)


def test_conditions_never_return_missing_values_and_impossible_or_misspelt_ones_are_errors():
    """Issue #22, item 5: on 785087b `age >= 65` returned rows with a missing age, `age >= 200`
    and `sex == 'Mail'` returned rows of missing values, and a rule naming an unknown category
    was accepted at fit time."""
    df, d = ps.datasets.make_census(2000, random_state=0)
    nullable = Domain.from_dict({**d.to_dict(), "columns": [{**c, "nullable": True} for c in d.to_dict()["columns"]]})
    holed = df.assign(age=df["age"].where(np.arange(len(df)) % 3 != 0))  # a third of the ages missing
    synth = ps.synthesizers.PrivBayes(epsilon=2.0, random_state=0, progress=False).fit(holed, nullable)
    assert synth.sample(2000, random_state=1)["age"].isna().mean() > 0.1  # the model does produce missing ages
    old = synth.sample(500, random_state=1, conditions="age >= 65")
    assert len(old) == 500 and old["age"].notna().all() and (old["age"] >= 65).all()
    with pytest.raises(PrivsynthError, match="condition 'age >= 200'"):
        synth.sample(100, random_state=1, conditions="age >= 200")
    with pytest.raises(DomainError, match="'Mail' is not a category of 'sex'"):
        synth.sample(100, conditions="sex == 'Mail'")
    with pytest.raises(DomainError, match="'Mail' is not a category of 'sex'"):
        Domain.from_dict({**d.to_dict(), "rules": ["if sex == 'Mail' then age >= 18"]})
