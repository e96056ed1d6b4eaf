"""DP numeric binning: charges carried into every certificate, engines agree, bins follow the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import privsynth as ps
from privsynth.core.domain import Domain, Numeric
from privsynth.core.errors import DomainError
from privsynth.privacy.certificate import verify
from privsynth.privacy.events import PureDpEvent
from privsynth.profiling.dp_binning import dp_bins


@pytest.fixture(scope="module")
def census():
    return ps.datasets.make_census(3000, random_state=0)


def test_the_binning_is_charged_in_the_fit_certificate_and_the_total_stays_within_budget(census):
    df, domain = census
    binned = dp_bins(df, domain, epsilon=0.1, random_state=0)
    numeric = [c.name for c in domain.columns if isinstance(c, Numeric)]
    events = [e["event"] for e in binned.estimation["entries"]]
    assert len(events) == len(numeric) + 1  # a noisy count, then one tree per numeric column
    assert binned.estimation["epsilon"] == pytest.approx(0.1) and binned.estimation["delta"] == 0.0
    for model in (ps.synthesizers.MST(epsilon=0.9, random_state=0), ps.synthesizers.PrivBayes(epsilon=0.9, random_state=0)):
        model.fit(df, binned)
        cert = model.certificate_
        assert verify(cert).ok and cert.spent.epsilon <= 1.0 + 1e-9
        labels = [e.label for e in cert.entries]
        assert labels[0] == "binning: noisy record count" and sum("PrivTree" in lab for lab in labels) == len(numeric)
    assert Domain.from_dict(binned.to_dict()) == binned


def test_a_public_row_count_spends_nothing_on_counting_and_trees_follow_dense_regions():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"amount": np.r_[np.zeros(4000), rng.gamma(2.0, 50.0, 1000)].clip(0, 1000)})
    domain = Domain((Numeric("amount", 0, 1000),))
    binned = dp_bins(df, domain, epsilon=1.0, rows=len(df), random_state=0)
    entries = binned.estimation["entries"]
    assert len(entries) == 1 and PureDpEvent(**{k: v for k, v in entries[0]["event"].items() if k != "kind"}) == PureDpEvent(1.0)
    edges = binned["amount"].edges()
    assert edges[0] == 0 and edges[-1] == 1000 and edges[1] < 1.0  # the zeros get a bin of their own
    assert edges[-2] >= 400  # and the sparse tail one wide bin


def test_refining_a_dp_domain_keeps_its_charges_first():
    raw = pd.DataFrame({"age": np.random.default_rng(0).integers(18, 90, 3000).astype(str),
                        "plan": np.random.default_rng(1).choice(["a", "b"], 3000)})
    estimated = ps.profiling.estimate_domain(raw, epsilon=0.5, kinds={"age": "integer", "plan": "categorical"},
                                             random_state=1)
    typed = raw.assign(age=raw["age"].astype(int))
    binned = dp_bins(typed, estimated, epsilon=0.2, rows=3000, random_state=0)
    before = estimated.estimation["entries"]
    assert binned.estimation["entries"][: len(before)] == before
    assert binned.estimation["epsilon"] == pytest.approx(estimated.estimation["epsilon"] + 0.2)
    assert binned.estimation["delta"] == estimated.estimation["delta"]


def test_duckdb_counts_the_same_histograms(census, tmp_path):
    df, domain = census
    path = tmp_path / "census.parquet"
    df.to_parquet(path)
    assert dp_bins(str(path), domain, epsilon=0.3, rows=3000, random_state=4) == dp_bins(df, domain, epsilon=0.3, rows=3000,
                                                                                          random_state=4)


def test_bad_arguments(census):
    df, domain = census
    with pytest.raises(DomainError, match="numeric"):
        dp_bins(df, domain, epsilon=0.1, columns=["sex"])
    with pytest.raises(ValueError, match="epsilon"):
        dp_bins(df, domain, epsilon=0)
    with pytest.raises(ValueError, match="rows"):
        dp_bins(df, domain, epsilon=0.1, rows=0)


@pytest.mark.parametrize("columns", [1, 3, 7, 12])
@pytest.mark.parametrize("rows", [None, 200])
def test_the_parts_never_overshoot_the_budget_in_floating_point(columns, rows):
    # 0.3 split in equal parts sums above 0.3 in floating point for many column counts: the ledger refused it
    rng = np.random.default_rng(0)
    domain = Domain(tuple(Numeric(f"x{i}", 0, 1) for i in range(columns)))
    df = pd.DataFrame(rng.random((200, columns)), columns=list(domain.names))
    binned = dp_bins(df, domain, epsilon=0.3, rows=rows, random_state=0)
    assert binned.estimation["epsilon"] <= 0.3
