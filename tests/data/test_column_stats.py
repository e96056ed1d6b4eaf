"""The DP domain estimation's exact statistics are the same whether pandas or DuckDB computes them
(the classes of a CSV's cells, the log-scale histogram, the value counts), so `privsynth profile
--dp` on a Parquet file or a CSV larger than memory releases noisy versions of the same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privsynth.data.column_stats import DuckDBStats, FrameStats, column_stats
from privsynth.profiling.dp_domain import bin_edges, estimate_domain

pytest.importorskip("duckdb")

TRICKY = [" 42 ", "042", "1e5", "+.5", "-0", "inf", "nan", "1,000", "abc", "7", "7.25", "-3.5e-2", "00", "0", None]


def frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "tricky": rng.choice(np.array(TRICKY, dtype=object), n),
        "amount": rng.lognormal(5, 3, n) * rng.choice([-1, 1], n),
        "count": rng.integers(0, 40, n),
        "city": rng.choice(["Oslo", "Lima ", " Pune", "Kyiv"], n),
    })


def all_counts(stats, name):
    keys, counts = [], []
    for k, c in stats.value_counts(name, chunk=3):
        keys += k
        counts += list(c)
    return dict(zip(keys, counts))


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_duckdb_statistics_equal_the_in_memory_ones(tmp_path, kind):
    df = frame()
    path = tmp_path / f"t.{kind}"
    if kind == "parquet":
        df.to_parquet(path)
        memory = FrameStats(pd.read_parquet(path), schema=True)
    else:
        df.to_csv(path, index=False)
        memory = FrameStats(pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]))
    engine = column_stats(str(path))
    assert isinstance(engine, DuckDBStats) and engine.columns == memory.columns
    assert engine.schema_kinds() == memory.schema_kinds()
    for name in df.columns:
        np.testing.assert_array_equal(engine.classes(name), memory.classes(name), err_msg=name)
        np.testing.assert_array_equal(engine.histogram(name, bin_edges()), memory.histogram(name, bin_edges()), err_msg=name)
        assert all_counts(engine, name) == all_counts(memory, name), name


def test_a_dp_domain_estimated_in_duckdb_spends_what_the_in_memory_one_spends(tmp_path):
    df = frame(2000)
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    a = estimate_domain(pd.read_parquet(path), epsilon=1.0, delta=1e-6, kinds="schema", random_state=0)
    b = estimate_domain(column_stats(str(path)), epsilon=1.0, delta=1e-6, kinds="schema", random_state=0)
    assert a.estimation["entries"] == b.estimation["entries"]
    assert [c.kind for c in a] == [c.kind for c in b]
    for x, y in zip(a, b):  # the numeric bounds come from the same noisy histogram (same counts, same draws)
        if x.kind == "numeric":
            assert (x.lower, x.upper) == (y.lower, y.upper)
