"""Every marginal synthesizer fits from any engine with identical results for the same private
randomness: the same charged events and the same noisy measurements from pandas, DuckDB (Parquet)
and Spark (``local[2]``; skipped without pyspark or Java)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

import privsynth as ps
from privsynth.core.categories import category_cells

MARGINAL = {
    "IndependentMarginals": {},
    "PrivBayes": {},
    "DPGaussianCopula": {},
    "MST": {"delta": 1e-6, "iterations": 200},
    "AIM": {"delta": 1e-6, "iterations": 50, "final_iterations": 100},
}


def fitted(name: str, data, domain):
    return getattr(ps.synthesizers, name)(epsilon=1.0, random_state=7, **MARGINAL[name]).fit(data, domain)


def assert_same_fit(a, b, name: str) -> None:
    assert [(e.label, e.event) for e in a.certificate_.entries] == [(e.label, e.event) for e in b.certificate_.entries], name
    state_a, arrays_a = a._state()
    state_b, arrays_b = b._state()
    assert state_a == state_b, name
    assert arrays_a.keys() == arrays_b.keys(), name
    for key in arrays_a:
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=f"{name}: {key}")
    pd.testing.assert_frame_equal(a.sample(200, random_state=1), b.sample(200, random_state=1))


@pytest.fixture(scope="module")
def census_files(tmp_path_factory):
    df, domain = ps.datasets.make_census(1500, random_state=3)
    df.loc[::37, "occupation"] = None  # a nullable column with missing values
    path = tmp_path_factory.mktemp("census") / "census.parquet"
    df.to_parquet(path)
    return df, domain, str(path)


@pytest.mark.parametrize("name", list(MARGINAL))
def test_a_fit_from_parquet_through_duckdb_equals_the_in_memory_fit(census_files, name):
    df, domain, path = census_files
    assert_same_fit(fitted(name, df, domain), fitted(name, path, domain), name)


def merged_domain(domain):
    """Census with merged categories, one of them in a nullable column with missing values."""
    from dataclasses import replace

    return ps.Domain(tuple(replace(c, merged=("Managerial", "Manual", "Service")) if c.name == "occupation" else
                           replace(c, merged=("R01", "R07", "R11")) if c.name == "region" else c for c in domain.columns))


@pytest.mark.parametrize("name", ["PrivBayes", "MST"])
def test_merged_categories_count_the_same_cells_in_duckdb(census_files, name):
    df, domain, path = census_files
    merged = merged_domain(domain)
    counts = ps.data.open_table(path, merged).marginals([[merged.names.index("occupation"), merged.names.index("region")]])
    assert counts[0].shape == (merged["occupation"].levels, merged["region"].levels) == (6, 10)
    np.testing.assert_array_equal(counts[0], ps.data.open_table(df, merged).marginals([[merged.names.index("occupation"),
                                                                                         merged.names.index("region")]])[0])
    occupation = counts[0].sum(axis=1)  # the merged cell holds exactly its categories' records
    real = df["occupation"].value_counts()
    shared = sum(int(real.get(c, 0)) for c in ("Managerial", "Manual", "Service"))
    cells = category_cells(merged["occupation"].categories, merged["occupation"].merged)
    assert occupation[cells[list(merged["occupation"].categories).index("Manual")]] == shared
    assert occupation[-1] == int(df["occupation"].isna().sum())
    assert_same_fit(fitted(name, df, merged), fitted(name, path, merged), name)


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17+ on the PATH")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("privsynth-tests").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2").config("spark.driver.memory", "1g").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_every_marginal_synthesizer_fits_from_spark_with_the_pandas_results(census_files, spark):
    """One test (one Spark session per worker): the five fits, then the engine's validation."""
    df, domain, path = census_files
    frame = spark.read.parquet(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyspark's note on pandas 3 (toPandas of the identifier check)
        for name in MARGINAL:
            assert_same_fit(fitted(name, df, domain), fitted(name, frame, domain), name)
        merged = merged_domain(domain)
        assert_same_fit(fitted("MST", df, merged), fitted("MST", frame, merged), "MST (merged categories)")
        frame.createOrReplaceTempView("census_records")
        from_catalog = ps.data.open_table("spark:census_records", domain)
        assert from_catalog.engine == "spark" and len(from_catalog) == len(df)
        table = ps.data.open_table(frame, domain)  # reopened under a refined domain: the same Spark view, new cubes
        table.check()
        sets = [(j,) for j in range(len(domain))] + [(0, 1)]
        again = table.reopened(merged)
        again.check()
        for got, want in zip(again.marginals(sets), ps.data.FrameTable(df, merged).marginals(sets)):
            np.testing.assert_array_equal(got, want)
        bad = spark.createDataFrame(df.assign(age=df["age"].where(df.index != 5, 200)).astype({"sex": str}))
        with pytest.raises(ps.DomainError, match=r"'age' has values outside its public bounds \[17, 90\]"):
            ps.synthesizers.MST(epsilon=1.0, delta=1e-6).fit(bad, domain)


def test_dp_sgd_from_a_file_streams_its_records_to_a_private_store(census_files, monkeypatch):
    """A table in an engine is encoded once into a private file and read a Poisson batch at a
    time (memory bounded by the batch); the accounting is the in-memory path's."""
    pytest.importorskip("torch")
    from privsynth.synthesizers import _record_store

    df, domain, path = census_files
    stores = []
    original = _record_store.RecordStore.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        stores.append(self)

    monkeypatch.setattr(_record_store.RecordStore, "__init__", spy)
    params = {"epochs": 1, "sampling_rate": 0.2, "hidden": (16,), "latent": 4, "progress": False, "device": "cpu", "random_state": 7}
    in_memory = ps.synthesizers.DPVAE(epsilon=1.0, **params).fit(df, domain)
    assert not stores
    from_file = ps.synthesizers.DPVAE(epsilon=1.0, **params).fit(path, domain)
    assert len(stores) == 1 and len(stores[0]) == len(df)
    assert [(e.label, e.event) for e in in_memory.certificate_.entries] == [(e.label, e.event) for e in from_file.certificate_.entries]
    assert from_file.sample(50, random_state=0).shape == (50, len(domain))
