"""The papers' DP preprocessing in one call: the share split by the columns each step touches,
the whole budget in the fit's certificate, the same domain from every engine."""

from __future__ import annotations

import pytest

import privsynth as ps
from privsynth.privacy.certificate import verify
from privsynth.profiling import dp_bins, dp_merge_rare, dp_preprocess


@pytest.fixture(scope="module")
def adult():
    df, domain = ps.datasets.load_adult()
    return df.iloc[:4000].reset_index(drop=True), domain


def test_both_steps_share_a_tenth_by_columns_and_the_fit_certifies_the_whole_budget(adult):
    df, domain = adult
    refined, left = dp_preprocess(df, domain, epsilon=2.0, random_state=0)
    numeric = [c.name for c in domain.columns if c.kind == "numeric"]
    assert left == pytest.approx(1.8) and refined.provenance == "dp"
    assert refined.estimation["epsilon"] == pytest.approx(0.2)
    labels = [e["label"] for e in refined.estimation["entries"]]
    assert labels[0].startswith("rare categories of 'native-country'")  # Adult's one column of >= 32 categories
    assert [lab for lab in labels if lab.startswith("binning: PrivTree bins of")] == [
        f"binning: PrivTree bins of {name!r}" for name in numeric]
    # the steps as called one by one with the same shares: the same domain
    merge_eps, bins_eps = 0.2 / (len(numeric) + 1), 0.2 * len(numeric) / (len(numeric) + 1)
    by_hand = dp_bins(df, dp_merge_rare(df, domain, epsilon=merge_eps, random_state=0), epsilon=bins_eps, random_state=0)
    assert refined.fingerprint() == by_hand.fingerprint()
    syn = ps.synthesizers.MST(epsilon=left, random_state=0).fit(df, refined)
    spent = syn.certificate_.spent.epsilon
    assert 1.99 < spent <= 2.0 + 1e-9 and verify(syn.certificate_)


def test_one_step_alone_and_a_step_with_nothing_to_touch(adult):
    df, domain = adult
    merged, left = dp_preprocess(df, domain, epsilon=1.0, steps="merge", share=0.2, random_state=1)  # one step by name
    assert left == pytest.approx(0.8) and merged.estimation["epsilon"] == pytest.approx(0.2)
    assert all(not e["label"].startswith("binning") for e in merged.estimation["entries"])
    census, census_domain = ps.datasets.make_census(500, random_state=0)
    same, left = dp_preprocess(census, census_domain, epsilon=1.0, steps=["merge"])  # no column of >= 32 categories
    assert same is census_domain and left == 1.0


@pytest.mark.parametrize("steps, share, match", [(["binning"], 0.1, "Unknown preprocessing step 'binning'"),
                                                 (["bins"], 1.0, r"share of epsilon must be in \(0, 1\)"),
                                                 (["bins"], 0.0, r"share of epsilon must be in \(0, 1\)")])
def test_bad_steps_and_shares_are_refused_before_anything_is_spent(adult, steps, share, match):
    df, domain = adult
    with pytest.raises(ValueError, match=match):
        dp_preprocess(df, domain, epsilon=1.0, steps=steps, share=share)


def test_a_table_in_duckdb_gives_the_domain_pandas_gives(adult, tmp_path):
    pytest.importorskip("duckdb")
    df, domain = adult
    df.to_parquet(tmp_path / "adult.parquet")
    table = ps.data.open_table(str(tmp_path / "adult.parquet"), domain)
    table.check()
    got, _ = dp_preprocess(table, domain, epsilon=1.0, random_state=5)
    want, _ = dp_preprocess(df, domain, epsilon=1.0, random_state=5)
    assert got.fingerprint() == want.fingerprint() and got.estimation == want.estimation
