import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from privsynth import DomainError
from privsynth.datasets import load_arx_hierarchies
from privsynth.evaluation.anonymity import _hierarchy_levels, hierarchical_emd, k_anonymity, l_diversity, t_closeness
from privsynth.evaluation.generalize import apply_hierarchy, band, generalize

TEST2 = Path(__file__).resolve().parents[1] / "fixtures" / "arx_test2"


@pytest.fixture(scope="module")
def paper():
    """The t-closeness paper's 9-record example with its ARX hierarchies (tests/fixtures/arx_test2)."""
    df = pd.read_csv(TEST2 / "test2.csv", sep=";")
    return df, load_arx_hierarchies(folder=TEST2.parent, prefix="test2", subfolder="arx_test2")


def emd_lp(p, q, ground):
    """Brute-force Earth Mover's Distance by linear programming (an independent reference)."""
    m = len(p)
    a_eq = []
    for i in range(m):
        row = np.zeros((m, m))
        row[i, :] = 1
        a_eq.append(row.ravel())
    for j in range(m):
        col = np.zeros((m, m))
        col[:, j] = 1
        a_eq.append(col.ravel())
    res = linprog(np.asarray(ground).ravel(), A_eq=np.array(a_eq), b_eq=np.concatenate([p, q]), bounds=(0, None), method="highs")
    return res.fun


def test_paper_example_salary(paper):
    df, h = paper
    g = generalize(df, h, {"ZIPCode": 1})
    result = t_closeness(g, ["ZIPCode"], "Salary")
    assert result.distance == "ordered"
    assert result.t == pytest.approx(1 / 6)  # 0.167, Li et al. 2007, Table 5
    assert sorted(result.classes["t"].round(6)) == [round(1 / 12, 6), round(1 / 6, 6), round(1 / 6, 6)]
    # the single class {3k, 4k, 5k} of the paper's Section 4: 0.375
    one = pd.DataFrame({"q": ["a"] * 3 + ["b"] * 6, "Salary": [3, 4, 5, 6, 7, 8, 9, 10, 11]})
    assert t_closeness(one, ["q"], "Salary").t == pytest.approx(0.375)


def test_paper_example_disease_hierarchical_matches_lp(paper):
    df, h = paper
    g = generalize(df, h, {"ZIPCode": 1})
    result = t_closeness(g, ["ZIPCode"], "Disease", hierarchy=h["Disease"])
    assert result.distance == "hierarchical"
    # hand-computed with the paper's formula on this hierarchy: 5/27, 7/27, 8/27
    assert sorted(result.classes["t"]) == pytest.approx([5 / 27, 7 / 27, 8 / 27])
    values = list(pd.unique(g["Disease"]))
    levels = _hierarchy_levels(h["Disease"], values)
    height = len(levels)
    ground = np.zeros((len(values), len(values)))
    for i, j in itertools.product(range(len(values)), repeat=2):
        if i != j:
            lca = next(k for k, lev in enumerate(levels, start=1) if lev[i] == lev[j])
            ground[i, j] = lca / height
    q = g["Disease"].value_counts(normalize=True).reindex(values).to_numpy()
    for _, cls in g.groupby("ZIPCode"):
        p = cls["Disease"].value_counts(normalize=True).reindex(values, fill_value=0).to_numpy()
        assert hierarchical_emd(p, q, levels)[0] == pytest.approx(emd_lp(p, q, ground), abs=1e-9)


def test_ordered_and_equal_distance_match_lp():
    rng = np.random.default_rng(0)
    m = 6
    ordered_ground = np.abs(np.subtract.outer(np.arange(m), np.arange(m))) / (m - 1)
    equal_ground = 1.0 - np.eye(m)
    for _ in range(10):
        df = pd.DataFrame({"q": rng.integers(0, 4, 200), "s": rng.integers(0, m, 200)})
        df["s"] = df["s"].astype(int)
        q = np.bincount(df["s"], minlength=m) / len(df)
        ordered = t_closeness(df, ["q"], "s")
        equal = t_closeness(df.assign(s=df["s"].map(lambda v: f"v{v}")), ["q"], "s")
        for (_, cls), t_o, t_e in zip(df.groupby("q"), ordered.classes["t"], equal.classes["t"]):
            p = np.bincount(cls["s"], minlength=m) / len(cls)
            assert t_o == pytest.approx(emd_lp(p, q, ordered_ground), abs=1e-9)
            assert t_e == pytest.approx(emd_lp(p, q, equal_ground), abs=1e-9)


def test_k_anonymity_by_hand():
    df = pd.DataFrame({"zip": ["1", "1", "1", "2", "2", None], "sex": ["F", "F", "F", "M", "M", "M"]})
    result = k_anonymity(df, ["zip", "sex"], threshold=2)
    assert result.k == 1  # the record with a missing zip is its own class
    assert len(result.classes) == 3 and result.classes["size"].sum() == 6
    assert len(result.violating) == 1 and result.violating["size"].iloc[0] == 1
    assert result.to_dict()["n_violating_classes"] == 1


@pytest.mark.parametrize("values, expected", [
    (["a", "b", "c"], 3.0), (["a", "b"] * 4, 2.0), (["a"] * 5, 1.0), (list("abcd") * 3, 4.0),
    (["a", "a", "b"], float(np.exp(-(2 / 3) * np.log(2 / 3) - (1 / 3) * np.log(1 / 3)))),
])
def test_entropy_l_is_exact(values, expected):
    df = pd.DataFrame({"q": [0] * len(values), "s": values})
    result = l_diversity(df, ["q"], "s", kind="entropy")
    if float(expected).is_integer():
        assert result.l == int(expected)  # exactly: no float truncation for equal frequencies
    else:
        assert result.l == pytest.approx(expected, rel=1e-12)


def test_distinct_and_recursive_l_by_hand():
    df = pd.DataFrame({"q": [0] * 5 + [1] * 4, "s": ["x", "x", "x", "y", "z", "x", "y", "y", "y"]})
    assert l_diversity(df, ["q"], "s").classes["l"].tolist() == [3, 2]
    # class 0 counts (3, 1, 1): c=2 -> l=2 (3 < 2*2, not 3 < 2*1); class 1 counts (3, 1): l=1 (3 < 2*4; 3 < 2*1 fails)
    rec = l_diversity(df, ["q"], "s", kind="recursive", c=2)
    assert rec.classes["l"].tolist() == [2, 1] and rec.l == 1 and rec.c == 2
    assert l_diversity(df, ["q"], "s", kind="recursive", c=1).classes["l"].tolist() == [1, 1]
    assert l_diversity(df, ["q"], "s", kind="recursive", c=0.5).classes["l"].tolist() == [0, 0]
    assert len(l_diversity(df, ["q"], "s", threshold=3).violating) == 1


def test_bad_input_is_explained():
    df = pd.DataFrame({"q": [1, 2], "s": ["a", None]})
    with pytest.raises(DomainError, match="not in the data"):
        k_anonymity(df, ["nope"])
    with pytest.raises(DomainError, match="empty"):
        k_anonymity(df.iloc[:0], ["q"])
    with pytest.raises(DomainError, match="1 missing values"):
        l_diversity(df, ["q"], "s")
    with pytest.raises(DomainError, match="cannot also be a quasi-identifier"):
        t_closeness(df, ["q", "s"], "s")
    with pytest.raises(DomainError, match="at least one"):
        k_anonymity(df, [])
    with pytest.raises(ValueError, match="kind"):
        l_diversity(df.fillna("b"), ["q"], "s", kind="fancy")
    unique = pd.DataFrame({"q": range(5), "s": list("aabbc")})  # every record its own class
    assert k_anonymity(unique, ["q"]).k == 1 and l_diversity(unique, ["q"], "s").l == 1
    assert t_closeness(unique, ["q"], "s").t == pytest.approx(0.8)


def test_generalization_helpers(paper):
    df, h = paper
    assert apply_hierarchy(df["Age"], h["Age"], 1).tolist()[:3] == ["[20,30[", "[20,30[", "[20,30["]
    with pytest.raises(DomainError, match="not in its hierarchy"):
        apply_hierarchy(pd.Series([99999], name="ZIPCode"), h["ZIPCode"], 1)
    with pytest.raises(DomainError, match="level"):
        apply_hierarchy(df["Age"], h["Age"], 7)
    assert band(pd.Series([17, 90, None]), edges=[17, 50, 90]).tolist()[:2] == ["[17, 50)", "[50, 90)"]
    with pytest.raises(DomainError, match="outside"):
        band(pd.Series([5]), edges=[17, 50])


def test_t_closeness_follows_the_domains_ordinal_kind():
    """An ordinal sensitive attribute gets the ordered ground distance (from the domain, or from an
    ordered pandas Categorical), not the equal one."""
    from privsynth import Domain, Ordinal
    from privsynth.core.dataset import validate

    levels = tuple(range(1, 11))
    df = pd.DataFrame({"q": ["a"] * 10 + ["b"] * 10, "score": [1] * 10 + [2] * 10})
    domain = Domain((Ordinal("q", ("a", "b")), Ordinal("score", levels)))
    equal = t_closeness(df, ["q"], "score", ordered=False).t
    ordered = t_closeness(df, ["q"], "score", domain=domain).t
    assert equal == pytest.approx(0.5) and ordered == pytest.approx(0.5 / 9)  # one step of nine
    assert t_closeness(validate(df, domain), ["q"], "score").t == pytest.approx(0.5 / 9)
    assert t_closeness(df, ["q"], "score", ordered=list(levels)).t == pytest.approx(ordered)


def test_t_closeness_sparse_distances_equal_the_dense_brute_force():
    """The O(n log m) distances (a numeric sensitive column has as many values as records) equal
    the dense classes x values computation on random small tables."""
    from privsynth.evaluation.anonymity import _sparse_distances

    rng = np.random.default_rng(0)
    for _ in range(200):
        n, m, k = int(rng.integers(1, 60)), int(rng.integers(2, 12)), int(rng.integers(1, 6))
        _, ids = np.unique(rng.integers(0, k, n), return_inverse=True)
        codes = rng.integers(0, m, n)
        classes = int(ids.max()) + 1
        q = np.bincount(codes, minlength=m) / n
        counts = np.zeros((classes, m))
        np.add.at(counts, (ids, codes), 1.0)
        p = counts / counts.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(_sparse_distances(ids, codes, classes, q, ordered=True),
                                   np.abs(np.cumsum(p - q, axis=1)).sum(axis=1) / (m - 1), atol=1e-12)
        np.testing.assert_allclose(_sparse_distances(ids, codes, classes, q, ordered=False), 0.5 * np.abs(p - q).sum(axis=1),
                                   atol=1e-12)
