"""Merged categories: one cell for several declared categories, the same codes everywhere, uniform decoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from privsynth.core.categories import category_cells, cell_members, decode_cells
from privsynth.core.dataset import decode, encode, levels
from privsynth.core.domain import Categorical, Domain, Numeric, Ordinal
from privsynth.core.errors import DomainError

CATS = ("US", "MX", "FJ", "PH", "TV", "NR")


def test_cells_follow_the_declared_order_with_the_merged_cell_at_its_first_category():
    assert category_cells(CATS, ("FJ", "TV", "NR")).tolist() == [0, 1, 2, 3, 2, 2]
    assert cell_members(CATS, ("FJ", "TV", "NR")) == [(0,), (1,), (2, 4, 5), (3,)]
    assert category_cells(CATS).tolist() == list(range(6)) and cell_members(CATS) == [(i,) for i in range(6)]
    assert category_cells(CATS, CATS).tolist() == [0] * 6  # everything rare: one cell


def test_a_column_declares_its_merged_categories_and_round_trips():
    col = Categorical("country", CATS, nullable=True, merged=["TV", "FJ"])
    assert col.merged == ("FJ", "TV") and col.cells == 5 and col.levels == 6  # declared order; missing state extra
    domain = Domain((col, Numeric("x", 0, 1)))
    assert Domain.from_dict(domain.to_dict()) == domain and domain.to_dict()["columns"][0]["merged"] == ["FJ", "TV"]
    assert levels(domain)[0] == 6
    assert Categorical("c", CATS).cells == 6 and Categorical("c", CATS, merged=()).merged == ()


@pytest.mark.parametrize("merged, message", [
    (("FJ",), "at least two"), (("FJ", "FJ"), "at least two"), (("FJ", "XX"), "not among its declared"),
    ("FJ", "list of its categories"),
])
def test_bad_merges_are_refused_naming_the_column(merged, message):
    with pytest.raises(DomainError, match=f"'country'.*{message}"):
        Categorical("country", CATS, merged=merged)


def test_an_ordinal_column_merges_nothing():
    with pytest.raises(DomainError, match="ordinal"):
        Ordinal("size", ("S", "M", "L"), merged=("S", "L"))


def test_encode_maps_categories_to_cells_and_missing_to_the_last_code():
    domain = Domain((Categorical("c", CATS, nullable=True, merged=("FJ", "TV", "NR")),))
    df = pd.DataFrame({"c": ["US", "FJ", "PH", "NR", None, "TV", "MX"]})
    assert encode(df, domain)[:, 0].tolist() == [0, 2, 3, 2, 4, 2, 1]


def test_decode_is_exact_outside_the_merged_cell_and_uniform_inside_it():
    domain = Domain((Categorical("c", CATS, nullable=True, merged=("FJ", "TV", "NR")),))
    codes = np.array([0, 1, 3, 4] * 10 + [2] * 30_000)[:, None]
    out = decode(codes, domain, rng=np.random.default_rng(3))["c"]
    assert out.iloc[:40].isna().sum() == 10 and out.iloc[:40].dropna().tolist() == ["US", "MX", "PH"] * 10
    drawn = out.iloc[40:].value_counts().reindex(["FJ", "TV", "NR"]).to_numpy()
    assert drawn.sum() == 30_000
    assert stats.chisquare(drawn).pvalue > 1e-3  # uniform over the merged categories (fixed seed)
    assert encode(out.to_frame(), domain)[:, 0].tolist() == codes[:, 0].tolist()  # and back to the same cells


def test_a_domain_without_merges_decodes_as_before_drawing_nothing_extra():
    cats = np.array([0, 1, 2, 6])
    assert decode_cells(cats, CATS, (), np.random.default_rng(0)).tolist() == [0, 1, 2, -1]
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    decode_cells(np.array([0, 1]), CATS, (), rng_a)
    assert rng_a.random() == rng_b.random()  # no uniform spent: seeded releases of unmerged domains are unchanged
