"""Identifier / PII detection: every kind found on generated tables (named and anonymous
columns, two locales, a seed the benchmark does not use), nothing flagged on Adult or census."""

from collections import Counter

import pandas as pd
import pytest

import privsynth as ps
from privsynth.datasets.people import make_people, people_kinds
from privsynth.profiling import KINDS, detect_identifiers, luhn_valid
from privsynth.profiling.identifiers import detect_column


@pytest.fixture(scope="module")
def tables():
    out = []
    for locale in ("en_US", "en_GB"):
        for anonymous in (False, True):
            df = make_people(600, random_state=11, locale=locale, anonymous_names=anonymous)
            out.append((df, dict(zip(df.columns, people_kinds(locale).values()))))
    return out


def test_precision_and_recall_per_kind(tables):
    tp, fp, fn = Counter(), Counter(), Counter()
    for df, truth in tables:
        found = {d.column: d.kind for d in detect_identifiers(df)}
        for column, kind in truth.items():
            got = found.get(column)
            if got == kind and kind is not None:
                tp[kind] += 1
            else:
                fp[got] += got is not None
                fn[kind] += kind is not None
    kinds = {k for k in tp} | {k for k in fn if k}
    assert kinds >= {"person_name", "ssn", "national_id", "date_of_birth", "date", "email", "phone", "street_address",
                     "postcode", "ip_address", "credit_card", "free_text", "unique_key"}
    for kind in kinds:
        precision = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else 0.0
        recall = tp[kind] / (tp[kind] + fn[kind])
        assert precision >= 0.75 and recall >= 0.75, (kind, precision, recall)
    assert sum(fn.values()) + sum(fp.values()) <= 2


def test_no_direct_identifier_in_adult_or_census(census):
    adult, _ = ps.datasets.load_adult()
    for df in (adult, census[0]):
        direct = [d for d in detect_identifiers(df) if d.direct]
        assert direct == []
    special = {d.column for d in detect_identifiers(adult)}
    assert special == {"race"}


def test_detection_carries_confidence_regulations_and_no_values():
    df = make_people(200, random_state=3)
    for d in detect_identifiers(df):
        assert 0.5 <= d.confidence <= 1 and d.regulations == KINDS[d.kind]["regulations"]
        assert not any(str(v) in d.evidence for v in df[d.column].head(50) if len(str(v)) > 3)
    ssn = next(d for d in detect_identifiers(df) if d.column == "ssn")
    assert ssn.direct and any("HIPAA" in r for r in ssn.regulations) and any("GDPR" in r for r in ssn.regulations)


def test_luhn_golden_values():
    assert luhn_valid("4111111111111111") and luhn_valid("79927398713") and luhn_valid("378282246310005")
    assert not luhn_valid("79927398710") and not luhn_valid("4111-1111") and not luhn_valid("")


def test_numbers_are_not_phones_or_cards_without_a_telling_name():
    s = pd.Series([77516.0, 83311.0, 215646.0, 234721.0] * 30, name="fnlwgt")
    assert detect_column(s) == []
    zips = pd.Series([f"{i:05d}" for i in range(1000, 1100)], name="zip")
    assert detect_column(zips)[0].kind == "postcode"


def test_repeated_common_words_are_categories_not_names():
    s = pd.Series(["White", "Black", "Young", "Green"] * 100, name="c1")
    assert all(d.kind != "person_name" for d in detect_column(s))


def test_sequential_numeric_ids_are_keys():
    s = pd.Series(range(1000, 1500), name="row")
    assert detect_column(s)[0].kind == "unique_key"


def test_fitting_on_an_identifier_column_warns_loudly():
    from privsynth import Categorical, Domain, IdentifierWarning

    df = make_people(300, random_state=4)[["ssn", "plan", "sex"]]
    domain = Domain((Categorical("ssn", tuple(sorted(df["ssn"]))), Categorical("plan", ("basic", "plus", "premium")),
                     Categorical("sex", ("female", "male"))))
    with pytest.warns(IdentifierWarning, match="'ssn' looks like a US social security number"):
        ps.synthesizers.IndependentMarginals(epsilon=1.0, random_state=0).fit(df, domain)


@pytest.fixture(scope="module")
def split_names():
    """Real-looking names in lower case split into first/last, and in upper case, declared as
    categories (as `profile --max-categories 5000` plus `provenance: declared` would)."""
    people = make_people(1500, random_state=22)
    full = people["full_name"].str.split()
    table = pd.DataFrame({"first": full.str[0].str.lower(), "last": full.str[-1].str.lower(),
                          "full_name_upper": people["full_name"].str.upper(), "plan": people["plan"]})
    domain = ps.Domain(tuple(ps.Categorical(c, tuple(sorted(table[c].unique()))) for c in table.columns))
    return table, domain


def test_names_in_any_case_and_split_into_first_and_last_are_found(split_names):
    """Issue #22, item 2: on 785087b lower-case 'miguel hernandez' read as a near-unique key and
    `first`/`last` as nothing, so `fit` exited 0 with a VALID certificate and the model file
    listed thousands of real names."""
    table, _ = split_names
    for column in ("first", "last", "full_name_upper"):
        assert detect_column(table[column])[0].kind == "person_name", column
    assert all(d.kind != "person_name" for d in detect_column(table["plan"]))


def test_the_pre_fit_check_catches_declared_name_categories(split_names, tmp_path, capsys):
    from privsynth import IdentifierWarning
    from privsynth.cli import main

    table, domain = split_names
    with pytest.warns(IdentifierWarning, match="'first' looks like a person's name"):
        ps.synthesizers.IndependentMarginals(epsilon=1.0, random_state=0).fit(table, domain)
    table.to_csv(tmp_path / "names.csv", index=False)
    domain.to_file(tmp_path / "names.yaml")
    code = main(["fit", "--data", str(tmp_path / "names.csv"), "--domain", str(tmp_path / "names.yaml"), "--epsilon", "1",
                 "--out", str(tmp_path / "m.privsynth")])
    err = capsys.readouterr().err
    assert code == 2 and "'first' looks like a person's name" in err and not (tmp_path / "m.privsynth").exists()


def test_declared_categories_alone_are_checked(split_names):
    """A column whose values in this table are missing still publishes its declared categories."""
    from privsynth.synthesizers._public_domain import suspected_identifiers

    table, domain = split_names
    emptied = table.assign(last=None)
    nullable = ps.Domain(tuple(ps.Categorical(c.name, c.categories, nullable=True) for c in domain))
    assert "last" in [d.column for d in suspected_identifiers(emptied, nullable)]
