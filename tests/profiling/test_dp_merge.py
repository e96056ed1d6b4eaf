"""DP rare-category merge: the rule on noisy counts only, charges carried into every certificate, engines agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import privsynth as ps
import privsynth.profiling.dp_merge as dp_merge_module
from privsynth.core.domain import Categorical, Domain, Numeric
from privsynth.core.errors import DomainError
from privsynth.mechanisms.laplace import discrete_laplace
from privsynth.privacy import Budget, Ledger
from privsynth.privacy.certificate import verify
from privsynth.profiling.dp_binning import dp_bins
from privsynth.profiling.dp_merge import dp_merge_rare, laplace_sd

FREQUENT = [f"f{i}" for i in range(5)]
RARE = [f"r{i}" for i in range(15)]


@pytest.fixture(scope="module")
def skewed():
    """5 categories of 1,000 records and 15 of 2, beside a number and a small categorical column."""
    values = np.repeat(FREQUENT, 1000).tolist() + np.repeat(RARE, 2).tolist()
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"country": values, "x": rng.random(len(values)), "sex": rng.choice(["F", "M"], len(values))})
    domain = Domain((Categorical("country", tuple(FREQUENT + RARE)), Numeric("x", 0, 1), Categorical("sex", ("F", "M"))))
    return df, domain


@pytest.fixture(scope="module")
def census():
    return ps.datasets.make_census(3000, random_state=0)


def test_rare_categories_share_a_cell_and_frequent_ones_keep_theirs(skewed):
    df, domain = skewed
    merged = dp_merge_rare(df, domain, epsilon=1.0, rows=len(df), min_categories=20, random_state=0)
    # cut = max(0.002 x 5,030, 3 sd of the noise at epsilon 1) = 10.06: far above 2, far below 1,000
    assert merged["country"].merged == tuple(RARE) and merged["country"].cells == 6
    assert merged["sex"] == domain["sex"]  # 2 declared categories: not considered (min_categories)
    assert merged.provenance == "dp" and Domain.from_dict(merged.to_dict()) == merged


def test_the_merge_is_charged_in_the_fit_certificate_and_the_total_stays_within_budget(skewed):
    df, domain = skewed
    merged = dp_merge_rare(df, domain, epsilon=0.1, min_categories=2, random_state=0)
    assert len(merged.estimation["entries"]) == 2  # one noisy histogram per column (country, sex), no count
    assert merged.estimation["epsilon"] == pytest.approx(0.1) and merged.estimation["delta"] == 0.0
    assert merged["country"].merged == tuple(RARE)  # cut: 3 sd at 0.05 = 85 records
    for model in (ps.synthesizers.MST(epsilon=0.9, random_state=0), ps.synthesizers.PrivBayes(epsilon=0.9, random_state=0)):
        model.fit(df, merged)
        cert = model.certificate_
        assert verify(cert).ok and cert.spent.epsilon <= 1.0 + 1e-9
        assert [e.label for e in cert.entries][:2] == ["rare categories of 'country': noisy counts",
                                                       "rare categories of 'sex': noisy counts"]
        out = model.sample(5000, random_state=1)["country"]
        assert set(out) <= set(domain["country"].categories) and out.isin(RARE).any()  # declared categories only


def test_the_decision_reads_nothing_but_the_noisy_counts(skewed, monkeypatch):
    df, domain = skewed
    released = []
    real = dp_merge_module.noisy_counts

    def recording(counts, **kwargs):
        out = real(counts, **kwargs)
        released.append(np.asarray(out, dtype=float))
        return out

    monkeypatch.setattr(dp_merge_module, "noisy_counts", recording)
    merged = dp_merge_rare(df, domain, epsilon=0.05, threshold=0.0, columns=["country"], random_state=3)  # noisy total, 3 sd
    noisy = released[0]
    cut = 3 * laplace_sd(0.05)
    expected = tuple(c for c, v in zip(domain["country"].categories, noisy) if v <= cut)
    assert merged["country"].merged == (expected if len(expected) >= 2 else ())
    assert 0 < len(expected) < 20  # at this budget the cut (~170) sits between the rare and the frequent


def test_laplace_sd_matches_the_noise_actually_drawn():
    ledger = Ledger(Budget(epsilon=10.0))
    for eps in (0.1, 1.0):
        draws = discrete_laplace(np.zeros(200_000, dtype=np.int64), epsilon=eps, ledger=ledger, rng=np.random.default_rng(1),
                                 label="n")
        assert np.std(draws) == pytest.approx(laplace_sd(eps), rel=0.02)
    assert laplace_sd(1.0) == pytest.approx(np.sqrt(2 * np.exp(-1)) / (1 - np.exp(-1)))


def test_duckdb_counts_the_same_histograms(census, tmp_path):
    df, domain = census
    path = tmp_path / "census.parquet"
    df.to_parquet(path)
    kwargs = {"epsilon": 0.05, "min_categories": 5, "random_state": 4}
    assert dp_merge_rare(str(path), domain, **kwargs) == dp_merge_rare(df, domain, **kwargs)


def test_merging_then_binning_keeps_every_charge_in_order(census):
    df, domain = census
    merged = dp_merge_rare(df, domain, epsilon=0.05, min_categories=6, random_state=0)
    both = dp_bins(df, merged, epsilon=0.05, rows=3000, random_state=0)
    assert both.estimation["entries"][: len(merged.estimation["entries"])] == merged.estimation["entries"]
    assert both.estimation["epsilon"] == pytest.approx(0.1) and both["region"].merged == merged["region"].merged
    again = dp_merge_rare(df, both, epsilon=0.05, min_categories=6, random_state=1)  # a fresh decision on the declared categories
    assert again.estimation["epsilon"] == pytest.approx(0.15) and again["age"].bins == both["age"].bins


def test_bad_arguments(census):
    df, domain = census
    with pytest.raises(DomainError, match="not such columns"):
        dp_merge_rare(df, domain, epsilon=0.1, columns=["age"])
    with pytest.raises(DomainError, match="none with at least 50"):
        dp_merge_rare(df, domain, epsilon=0.1, min_categories=50)
    with pytest.raises(ValueError, match="epsilon"):
        dp_merge_rare(df, domain, epsilon=0)
    with pytest.raises(ValueError, match="threshold"):
        dp_merge_rare(df, domain, epsilon=0.1, threshold=1.5)
    with pytest.raises(ValueError, match="rows"):
        dp_merge_rare(df, domain, epsilon=0.1, rows=0)


@pytest.mark.parametrize("columns", [1, 3, 7, 12])
def test_the_parts_never_overshoot_the_budget_in_floating_point(columns):
    rng = np.random.default_rng(0)
    domain = Domain(tuple(Categorical(f"c{i}", tuple("abcdefgh")) for i in range(columns)))
    df = pd.DataFrame(rng.choice(list("abcdefgh"), (200, columns)), columns=list(domain.names))
    assert dp_merge_rare(df, domain, epsilon=0.3, min_categories=8, random_state=0).estimation["epsilon"] <= 0.3


def test_a_dp_sgd_model_learns_the_cells_and_releases_declared_categories(skewed):
    pytest.importorskip("torch")
    df, domain = skewed
    merged = dp_merge_rare(df, domain, epsilon=0.2, rows=len(df), columns=["country"], random_state=0)
    assert merged["country"].merged == tuple(RARE)
    model = ps.synthesizers.DPVAE(epsilon=1.0, epochs=1, random_state=0, progress=False).fit(df, merged)
    assert verify(model.certificate_).ok
    out = model.sample(3000, random_state=0)["country"]
    assert set(out) <= set(FREQUENT + RARE) and out.isin(RARE).any()


@pytest.mark.parametrize("name", ["AIM", "MST"])
def test_zcdp_methods_fit_within_the_total_on_a_merged_domain_at_a_small_budget(census, name):
    """AIM at epsilon 0.27 after a 0.03 merge used to stop mid-fit: its rho was calibrated for its own
    epsilon, and the ledger composed the merge's Laplace with AIM's exponential mechanisms either all
    in RDP (0.328) or all summed (more). Now its rho is calibrated after the domain's charges and the
    accountant may sum the Laplace alone beside the RDP of the rest (0.3)."""
    df, domain = census
    merged = dp_merge_rare(df, domain, epsilon=0.03, min_categories=6, random_state=0)
    model = getattr(ps.synthesizers, name)(epsilon=0.27, random_state=0).fit(df, merged)
    cert = model.certificate_
    assert verify(cert).ok and 0.29 <= cert.spent.epsilon <= 0.3 + 1e-9


def test_a_dp_estimated_domain_is_refined_with_its_numbers_clipped_as_its_fits_clip_them():
    """A DP domain's bounds are estimates: a value beyond them (one record's outlier, which the
    estimation never releases) is counted in the end cell, as a fit on that domain does, not refused."""
    rng = np.random.default_rng(0)
    raw = pd.DataFrame({"age": np.r_[rng.integers(18, 90, 3999), 5000].astype(str),
                        "country": rng.choice([f"c{i}" for i in range(3)] + ["rare1", "rare2"], 4000, p=[0.33, 0.33, 0.33, 0.005, 0.005])})
    estimated = ps.profiling.estimate_domain(raw, epsilon=1.0, kinds={"age": "integer", "country": "categorical"}, random_state=0)
    assert estimated["age"].upper < 5000
    typed = raw.assign(age=raw["age"].astype(int))
    merged = dp_merge_rare(typed, estimated, epsilon=0.5, columns=["country"], random_state=0)
    binned = dp_bins(typed, merged, epsilon=0.5, rows=4000, random_state=0)
    assert binned.estimation["epsilon"] == pytest.approx(estimated.estimation["epsilon"] + 1.0)
    model = ps.synthesizers.MST(epsilon=1.0, random_state=0).fit(typed, binned)
    assert verify(model.certificate_).ok


def test_a_neighbour_pair_gets_domains_of_the_same_structure(skewed):
    """The attacker holds the refined domain (it is published in every model file) and every record
    but one: which columns were considered, the charges, their labels and the budget stated must not
    depend on the data -- only the merged sets, post-processing of the noisy counts, may."""
    df, domain = skewed
    without = df.drop(index=df.index[df["country"] == "r0"][:1])  # the one record: a holder of a rare category
    a = dp_merge_rare(df, domain, epsilon=0.5, min_categories=2, random_state=7)
    b = dp_merge_rare(without, domain, epsilon=0.5, min_categories=2, random_state=7)
    assert a.estimation["entries"] == b.estimation["entries"] and a.estimation["epsilon"] == b.estimation["epsilon"]
    assert a.estimation["assumptions"] == b.estimation["assumptions"]
    assert [c.name for c in a.columns] == [c.name for c in b.columns]
    assert all(set(getattr(c, "merged", ())) <= set(getattr(c, "categories", ())) for c in (*a.columns, *b.columns))
