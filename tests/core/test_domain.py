import json

import numpy as np
import pandas as pd
import pytest

from privsynth import PrivacyLeakWarning
from privsynth.core.domain import Categorical, Domain, Numeric, Ordinal
from privsynth.core.errors import DomainError
from privsynth.datasets import census_domain, domain_file


def test_columns_validate_their_declaration():
    with pytest.raises(DomainError, match="lower bound"):
        Numeric("x", 5, 1)
    with pytest.raises(DomainError, match="finite"):
        Numeric("x", 0, float("inf"))
    with pytest.raises(DomainError, match="whole-number"):
        Numeric("x", 0.5, 3, integer=True)
    with pytest.raises(DomainError, match="bins"):
        Numeric("x", 0, 1, bins=0)
    with pytest.raises(DomainError, match="at least one category"):
        Categorical("c", ())
    with pytest.raises(DomainError, match="unique"):
        Categorical("c", ("a", "a"))
    with pytest.raises(DomainError, match="role"):
        Categorical("c", ("a",), role="secret")
    with pytest.raises(DomainError, match="Duplicate"):
        Domain((Categorical("c", ("a",)), Numeric("c", 0, 1)))
    with pytest.raises(DomainError, match="provenance"):
        Domain((Categorical("c", ("a",)),), provenance="guessed")


def test_levels_and_public_edges():
    assert Categorical("c", ("a", "b"), nullable=True).levels == 3
    age = Numeric("age", 17, 90, integer=True, bins=8)
    edges = age.edges()
    assert edges[0] == 17 and edges[-1] == 90 and len(edges) == 9
    small = Numeric("k", 1, 5, integer=True)  # fewer values than default bins: one bin per value
    assert small.n_bins() == 5
    np.testing.assert_array_equal(small.edges(), [0.5, 1.5, 2.5, 3.5, 4.5, 5.5])


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_file_round_trip_keeps_fingerprint(tmp_path, suffix):
    domain = census_domain()
    path = domain.to_file(tmp_path / f"d{suffix}")
    again = Domain.from_file(path)
    assert again == domain
    assert again.fingerprint() == domain.fingerprint()
    assert isinstance(again["education"], Ordinal)


def test_fingerprint_is_stable_and_sensitive():
    a = Domain((Categorical("c", ("x", "y")), Numeric("n", 0, 10)))
    b = Domain.from_dict(json.loads(json.dumps(a.to_dict())))
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint().startswith("sha256:")
    changed = Domain((Categorical("c", ("x", "y", "z")), Numeric("n", 0, 10)))
    assert changed.fingerprint() != a.fingerprint()
    # a known value pins the canonical form: changing it breaks every published certificate
    tiny = Domain((Categorical("c", ("a",)),))
    assert tiny.fingerprint() == "sha256:" + __import__("hashlib").sha256(
        b'{"columns":[{"categories":["a"],"kind":"categorical","name":"c"}],"provenance":"declared"}'
    ).hexdigest()


def test_private_pgm_size_form():
    d = Domain.from_dict({"a": 3, "b": 2})
    assert d["a"].categories == (0, 1, 2) and isinstance(d["b"], Ordinal)


def test_malformed_files_raise_domain_error(tmp_path):
    with pytest.raises(DomainError, match="does not exist"):
        Domain.from_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [{name: x, kind: banana}]")
    with pytest.raises(DomainError, match="kind"):
        Domain.from_file(bad)
    bad.write_text("columns: [{name: x, kind: numeric, lower: 0}]")
    with pytest.raises(DomainError, match="numeric"):
        Domain.from_file(bad)
    bad.write_text("{not yaml: [")
    with pytest.raises(DomainError, match="parsed"):
        Domain.from_file(bad)


def test_infer_warns_and_marks_provenance():
    df = pd.DataFrame({"x": [1, 2, np.nan], "c": ["a", "b", "a"]})
    with pytest.warns(PrivacyLeakWarning, match="leaks"):
        d = Domain.infer(df)
    assert d.provenance == "inferred" and not d.is_declared
    assert d["x"].nullable and d["x"].integer and (d["x"].lower, d["x"].upper) == (1, 2)
    assert d["c"].categories == ("a", "b")


def test_roles_and_selection():
    d = census_domain()
    assert "age" in d.with_role("quasi_identifier")
    assert d.select(["sex", "age"]).names == ("sex", "age")
    with pytest.raises(KeyError, match="not in the domain"):
        d["nope"]


def test_shipped_adult_domains_parse():
    for name in ("adult", "arx_adult"):
        d = Domain.from_file(domain_file(name))
        assert d.is_declared
    adult = Domain.from_file(domain_file("adult"))
    assert adult["age"].lower == 17 and adult["age"].upper == 90
    assert adult["workclass"].nullable and not adult["sex"].nullable
    assert len(adult["native-country"].categories) == 41


def test_identifier_columns_are_kept_by_name_and_never_synthesized():
    from privsynth import Categorical, Domain, Numeric

    d = Domain((Numeric("age", 0, 100), Categorical("ssn", ("x",), role="identifier")))
    assert d.names == ("age",) and d.identifiers == ("ssn",)
    again = Domain.from_dict(d.to_dict())
    assert again == d and {"name": "ssn", "role": "identifier"} in d.to_dict()["columns"]
    with pytest.raises(DomainError, match="not an identifier"):
        Domain((Categorical("ssn", ("x",), role="identifier"),))


def test_other_category_takes_undeclared_values():
    import pandas as pd

    from privsynth import Categorical, Domain
    from privsynth.core.dataset import validate

    d = Domain((Categorical("c", ("a", "(other)"), other="(other)"),))
    assert validate(pd.DataFrame({"c": ["a", "zzz"]}), d)["c"].astype(object).tolist() == ["a", "(other)"]
    with pytest.raises(DomainError, match="must be one of its categories"):
        Categorical("c", ("a",), other="(other)")


def test_dp_provenance_needs_its_estimation_and_unknown_keys_are_refused():
    from privsynth import Domain

    entry = {"name": "x", "kind": "numeric", "lower": 0, "upper": 1}
    with pytest.raises(DomainError, match="estimation"):
        Domain.from_dict({"provenance": "dp", "columns": [entry]})
    with pytest.raises(DomainError, match="Only a domain with provenance 'dp'"):
        Domain.from_dict({"columns": [entry], "estimation": {"entries": []}})
    with pytest.raises(DomainError, match="Unknown top-level key 'colums'"):
        Domain.from_dict({"columns": [entry], "colums": []})
