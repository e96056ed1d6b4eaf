"""profile(): the draft domain, its commented YAML, the report; read_raw; nice_bounds."""


import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privsynth import Domain, DomainError
from privsynth.datasets.people import make_people
from privsynth.profiling import nice_bounds, profile, read_raw


@pytest.fixture(scope="module")
def people():
    return make_people(800, random_state=5)


def test_draft_domain_kinds_roles_and_identifiers(people):
    p = profile(people)
    d = p.domain
    assert d.provenance == "inferred"
    assert set(d.identifiers) >= {"customer_id", "full_name", "ssn", "email", "phone", "street_address", "ip", "card_number",
                                  "notes", "birth_date"}
    assert d["satisfaction"].kind == "numeric" and (d["satisfaction"].lower, d["satisfaction"].upper, d["satisfaction"].bins) == (1, 5, 5)
    assert d["age"].kind == "numeric" and d["age"].integer and d["age"].role == "quasi_identifier"
    assert d["age"].lower <= people["age"].min() and d["age"].upper >= people["age"].max()
    assert d["age"].lower % 10 == 0 and d["age"].upper % 10 == 0  # public-looking
    assert d["plan"].kind == "categorical" and set(d["plan"].categories) == {"basic", "plus", "premium"}
    assert d["sex"].role == "quasi_identifier"


def test_yaml_is_commented_and_loads_back(people, tmp_path):
    p = profile(people)
    text = p.to_yaml()
    assert "provenance: inferred" in text and "INVALID" in text and "DETECTED a US social security number" in text
    assert "HIPAA" in text and "  # age:" in text
    path = p.write_yaml(tmp_path / "d.yaml")
    assert Domain.from_file(path) == p.domain


def test_reports(people, tmp_path):
    p = profile(people)
    html = p.write_report(tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 and "as sensitive as the data" in html and "Cram" in html
    md = p.write_report(tmp_path / "r.md").read_text()
    assert "| ssn |" in md and "direct identifier" in md


def test_ordered_labels_become_ordinal_and_missing_makes_nullable():
    df = pd.DataFrame({"risk": ["high", "low", "medium", None] * 25, "n": range(100)})
    d = profile(df).domain
    assert d["risk"].kind == "ordinal" and d["risk"].categories == ("low", "medium", "high") and d["risk"].nullable


def test_read_raw_keeps_leading_zeros_and_refuses_empty(tmp_path):
    (tmp_path / "z.csv").write_text("zip,n\n02134,1\n10001,2\n")
    df = read_raw(tmp_path / "z.csv")
    assert df["zip"].tolist() == ["02134", "10001"] and df["n"].dtype.kind in "if"
    (tmp_path / "h.csv").write_text("a,b\n")
    with pytest.raises(DomainError, match="header but no records"):
        read_raw(tmp_path / "h.csv")
    (tmp_path / "l.csv").write_bytes("name\nJos\xe9\n".encode("latin-1"))
    with pytest.raises(DomainError, match="--encoding"):
        read_raw(tmp_path / "l.csv")
    assert read_raw(tmp_path / "l.csv", encoding="latin-1")["name"].tolist() == ["José"]


def test_profile_refuses_empty_tables():
    with pytest.raises(DomainError, match="no records"):
        profile(pd.DataFrame({"a": []}))


@given(st.floats(-1e9, 1e9, allow_nan=False), st.one_of(st.just(0.0), st.floats(1e-3, 1e9)))
def test_nice_bounds_contain_the_range(lo, span):
    hi = lo + span
    a, b = nice_bounds(lo, hi)
    assert a <= lo and b >= hi and b > a
    if span > 0:
        assert (b - a) <= 30 * span + 1e-6 * max(1, abs(lo))  # outward, not absurdly so


def test_nice_bounds_examples():
    assert nice_bounds(17, 90) == (10, 100)  # strictly outward: 90 is the data's maximum
    assert nice_bounds(1, 99) == (0, 100)
    assert nice_bounds(0, 99999) == (0, 100000)
    assert nice_bounds(-3.2, 7.9) == (-5, 10)
    assert nice_bounds(5, 5) == (4, 6) or nice_bounds(5, 5)[0] < 5 < nice_bounds(5, 5)[1]
    assert np.isfinite(nice_bounds(0, 0)[1])


def test_dates_and_mixed_values_become_text_categories_with_a_note():
    df = pd.DataFrame({"d": pd.to_datetime(["2020-01-01", "2020-01-02"] * 20), "b": [True, False] * 20})
    p = profile(df)
    assert p.domain["d"].categories == ("2020-01-01 00:00:00", "2020-01-02 00:00:00")
    assert "astype(str)" in p.columns[0].note and p.domain["b"].categories == (False, True)


def test_counts_are_drafted_with_one_level_per_value_and_spikes_as_points():
    """Issue #22, item 3: one rule for whole numbers (a range of at most 64 values: one level per
    value), and point masses kept in wider columns, each said in the draft's comment."""
    rng = np.random.default_rng(0)
    n = 4000
    df = pd.DataFrame({"juv_fel_count": np.where(rng.random(n) < 0.96, 0, rng.integers(1, 20, n)),
                       "priors_count": rng.integers(0, 39, n),
                       "gain": np.where(rng.random(n) < 0.9, 0.0, rng.gamma(2, 3000, n).round(2))})
    prof = profile(df)
    d = prof.domain
    assert d["juv_fel_count"].bins == d["juv_fel_count"].upper - d["juv_fel_count"].lower + 1
    assert d["priors_count"].bins == 39 and d["priors_count"].points == ()
    assert d["gain"].points == (0,) and d["gain"].bins is None
    text = prof.to_yaml()
    assert "one level per value" in text and "+ points [0]" in text
