"""`privsynth bench` (issue #24, first part): a grid in one command, resumable, every certificate verified."""

import json

import pytest

import privsynth.bench as bench
from privsynth.cli import main


def test_a_grid_writes_runs_summary_plots_and_resumes(tmp_path, monkeypatch):
    grid = {"tables": ["census"], "synthesizers": ["independent"], "epsilons": [0.2, 2.0], "seeds": [0, 1]}
    result = bench.run_bench(**grid, out_dir=tmp_path, progress=False)
    assert len(result.runs) == 4 and result.runs["verified"].all()
    assert (result.runs["spent_epsilon"] <= result.runs["epsilon"] + 1e-9).all()
    assert set(result.summary["seeds"]) == {2} and len(result.summary) == 2
    for name in ("results.csv", "summary.csv", "summary.md", "meta.json", "tvd_2_vs_epsilon_census.png", "tvd_2_vs_fit_time.png"):
        assert (tmp_path / name).is_file(), name
    assert "| census | independent | 2 |" in (tmp_path / "summary.md").read_text()
    low, high = (result.summary.set_index(["synthesizer", "epsilon"]).loc[("independent", e), "tvd_1_mean"] for e in (0.2, 2.0))
    assert high < low  # more budget, closer marginals

    def refuse(*args):
        raise AssertionError("a finished run was run again")

    monkeypatch.setattr(bench, "_one", refuse)
    again = bench.run_bench(**grid, out_dir=tmp_path, progress=False)
    assert again.runs.equals(result.runs)


def test_unknown_names_are_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="Unknown benchmark table"):
        bench.run_bench(tables=["nope"], out_dir=tmp_path)
    with pytest.raises(ValueError, match="Unknown synthesizer"):
        bench.run_bench(tables=["census"], synthesizers=["nope"], out_dir=tmp_path)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_command(tmp_path, capsys):
    assert main(["bench", "--tables", "census", "--synthesizers", "independent", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| census | independent | 1 |" in out and "1 runs" in out


def test_runs_carry_the_papers_metrics_and_reuse_the_tuned_models(tmp_path):
    grid = {"tables": ["census"], "synthesizers": ["independent", "mst"], "epsilons": [1.0], "seeds": [0]}
    result = bench.run_bench(**grid, out_dir=tmp_path, ml_models=["rf"], progress=False)
    runs = result.runs.set_index("synthesizer")
    for column in ("tab_bench_tvd_1", "tab_bench_tvd_2", "tab_bench_query", "synmeter_cat_error", "synmeter_cont_error",
                   "synmeter_query_3", "ml_f1_macro", "ml_auc", "ml_affinity"):
        assert runs[column].between(0, 1).all(), column
    assert set(runs["ml_models"]) == {"rf"}
    # census ties sex to income and occupation: MST keeps that, the independent baseline cannot
    assert runs.loc["mst", "tab_bench_tvd_2"] < runs.loc["independent", "tab_bench_tvd_2"]
    reference = tmp_path / "reference" / "census.json"
    assert reference.is_file() and '"rf"' in reference.read_text()
    assert "ml_affinity" in (tmp_path / "summary.md").read_text()
    floor = json.loads((tmp_path / "reference" / "census_floor.json").read_text())
    assert floor["models"] == ["rf"] and floor["tab_bench_tvd_2"] > 0  # train vs test: not 0, and tied to the models


def test_a_privtree_variant_spends_a_tenth_on_binning_within_the_same_total(tmp_path):
    result = bench.run_bench(tables=["census"], synthesizers=["mst+privtree"], epsilons=[1.0], seeds=[0], out_dir=tmp_path,
                             ml_models=[], progress=False)
    row = result.runs.iloc[0]
    assert row["synthesizer"] == "mst+privtree" and bool(row["verified"]) and row["spent_epsilon"] <= 1.0 + 1e-9
    assert "ml_f1_macro" not in result.runs.columns  # no models asked for
    with pytest.raises(ValueError, match="variant"):
        bench.run_bench(tables=["census"], synthesizers=["mst+binned"], out_dir=tmp_path)
    with pytest.raises(ValueError, match="repeated variant"):
        bench.parse_name("mst+merge+merge")


def test_the_papers_preprocessing_shares_a_tenth_by_the_columns_each_step_touches():
    table = bench.load("adult")
    domain, eps = bench._preprocessed(table, frozenset({"privtree", "merge"}), 1.0, 0)
    assert eps == pytest.approx(0.9) and domain.estimation["epsilon"] == pytest.approx(0.1)
    labels = [e["label"] for e in domain.estimation["entries"]]
    numeric = [c.name for c in table.domain.columns if c.kind == "numeric"]
    assert labels == ["rare categories of 'native-country': noisy counts"] + [  # Adult's one column of >= 32 categories
        f"binning: PrivTree bins of {name!r}" for name in numeric]
    events = [e["event"] for e in domain.estimation["entries"]]
    assert 1 / events[0]["noise_multiplier"] == pytest.approx(0.1 / (len(numeric) + 1))  # Laplace at epsilon: split by columns
    assert bench.parse_name("aim+privtree+merge") == ("aim", frozenset({"privtree", "merge"}))
    census = bench.load("census")  # no column of >= 32 categories: the merge touches nothing and costs nothing
    same, left = bench._preprocessed(census, frozenset({"merge"}), 1.0, 0)
    assert left == 1.0 and same == census.domain
