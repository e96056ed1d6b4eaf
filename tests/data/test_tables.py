"""The data room's engines count the same records into the same cells, and refuse the same
out-of-domain values with the same words: pandas in memory against DuckDB on Parquet, CSV and a
DuckDB database (Spark: tests/data/test_spark.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from privsynth.core.domain import Categorical, Domain, Numeric, Ordinal
from privsynth.core.errors import DomainError
from privsynth.data import FrameTable, open_table

duckdb = pytest.importorskip("duckdb")

EDGY = Domain((
    Numeric("x", 0.0, 1.0, bins=10),                       # edges 0.1, 0.2 ... (not exact in binary)
    Numeric("n", 0, 200, integer=True, bins=8, points=(0,), nullable=True),
    Numeric("f", -5.0, 5.0, bins=(-5, -0.3, 0, 1e-3, 5), points=(2.5,)),
    Categorical("c", ("a", "b", "it's", "d"), nullable=True),
    Ordinal("o", ("low", "mid", "high")),
    Categorical("k", ("1", "2", "other"), other="other"),
))


def edgy_frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Values that sit exactly on every edge and point, plus random ones."""
    rng = np.random.default_rng(seed)
    x_edges = EDGY["x"].edges(16)
    f_edges = EDGY["f"].edges(16)
    x = np.concatenate([x_edges, rng.uniform(0, 1, n - len(x_edges))])
    n_col = rng.integers(0, 201, n).astype(float)
    n_col[rng.random(n) < 0.1] = np.nan
    n_col[:5] = [0, 1, 200, np.nan, 25]
    f = np.concatenate([np.clip(f_edges, -5, 5), [2.5, 2.5 + 1e-12, -1e-300], rng.uniform(-5, 5, n - len(f_edges) - 3)])
    c = rng.choice(np.array(["a", "b", "it's", "d", None], dtype=object), n)
    o = rng.choice(["low", "mid", "high"], n)
    k = rng.choice(["1", "2", "other", "7", "zz"], n)  # undeclared values count as 'other'
    return pd.DataFrame({"x": x, "n": n_col, "f": f, "c": c, "o": o, "k": k, "extra": 1})


def all_sets(d: int):
    return [s for r in (1, 2, 3) for s in itertools.combinations(range(d), r)]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    df = edgy_frame()
    parquet, csv, db = folder / "t.parquet", folder / "t.csv", folder / "t.db"
    df.to_parquet(parquet)
    df.to_csv(csv, index=False)
    with duckdb.connect(str(db)) as con:
        con.register("frame", df)
        con.execute("CREATE TABLE records AS SELECT * FROM frame")
    return df, {"parquet": str(parquet), "csv": str(csv), "duckdb": f"duckdb://{db}?table=records"}


@pytest.mark.parametrize("kind", ["parquet", "csv", "duckdb"])
@pytest.mark.parametrize("bins", [16, 5])
def test_duckdb_counts_every_marginal_as_pandas_does(sources, kind, bins):
    df, paths = sources
    memory = FrameTable(df, EDGY)
    engine = open_table(paths[kind], EDGY, engine="duckdb")
    assert engine.engine == "duckdb" and len(engine) == len(memory) == len(df)
    sets = all_sets(len(EDGY))
    for attrs, want, got in zip(sets, memory.marginals(sets, bins=bins), engine.marginals(sets, bins=bins)):
        assert got.shape == want.shape and got.dtype == np.int64, attrs
        np.testing.assert_array_equal(got, want, err_msg=str(attrs))


def test_an_empty_table_counts_zero_everywhere(tmp_path):
    path = tmp_path / "empty.parquet"
    edgy_frame().iloc[:0].to_parquet(path)
    table = open_table(str(path), EDGY)
    table.check()
    assert len(table) == 0
    assert all(not m.any() for m in table.marginals(all_sets(3)))


BAD = [
    ("x", 1.5, "outside its public bounds"),
    ("x", np.nan, "missing values but is not nullable"),
    ("n", 2.5, "declared integer but has non-integer values"),
    ("c", "zz", "outside its declared categories"),
    ("o", None, "missing values but is not nullable"),
]


@pytest.mark.parametrize("column,value,words", BAD)
@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_the_engine_refuses_what_pandas_refuses_with_the_same_words(tmp_path, column, value, words, kind):
    df = edgy_frame(200)
    if EDGY[column].kind != "numeric":
        df[column] = df[column].astype(object)
    df.loc[17, column] = value
    path = tmp_path / f"bad.{kind}"
    df.to_parquet(path) if kind == "parquet" else df.to_csv(path, index=False)
    with pytest.raises(DomainError) as in_memory:
        FrameTable(df, EDGY)
    with pytest.raises(DomainError) as in_engine:
        open_table(str(path), EDGY, engine="duckdb").check()
    assert words in str(in_engine.value) and repr(column) in str(in_engine.value)
    assert str(in_engine.value) == str(in_memory.value)
    assert "17" not in str(in_engine.value) and "1 " not in str(in_engine.value)  # no row, no count


def test_clip_counts_numbers_beyond_the_bounds_in_the_end_cells(tmp_path):
    df = edgy_frame(300)
    df.loc[3, "x"], df.loc[4, "f"] = 7.0, -99.0
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    want = FrameTable(df, EDGY, clip=True).marginals([(0,), (2,)])
    got = open_table(str(path), EDGY, clip=True).marginals([(0,), (2,)])
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)


def test_a_text_column_declared_numeric_is_refused_from_the_schema(tmp_path):
    df = edgy_frame(50).assign(x=lambda d: d["x"].astype(str))
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    with pytest.raises(DomainError, match="'x' is declared numeric but holds values that are not numbers"):
        open_table(str(path), EDGY).check()


def test_a_csv_cell_that_is_not_a_number_is_named(tmp_path):
    df = edgy_frame(50)
    df["f"] = df["f"].astype(object)
    df.loc[9, "f"] = "n/a"
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    with pytest.raises(DomainError, match="'f' is declared numeric but holds values that are not numbers"):
        open_table(str(path), EDGY, engine="duckdb").check()
    table = open_table(str(path), EDGY, engine="duckdb", na_values=["n/a"])  # declared missing marker: f is not nullable
    with pytest.raises(DomainError, match="'f' has missing values"):
        table.check()


def test_missing_columns_and_missing_files_are_named(tmp_path):
    path = tmp_path / "t.parquet"
    edgy_frame(20).drop(columns=["o"]).to_parquet(path)
    with pytest.raises(DomainError, match=r"\['o'\] are declared in the domain but missing"):
        open_table(str(path), EDGY).check()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_table(str(tmp_path / "nope.parquet"), EDGY)
    with pytest.raises(ValueError, match="names its table"):
        open_table(f"duckdb://{tmp_path / 'x.db'}", EDGY)


def test_the_engine_returns_validated_records_for_code_that_needs_them(sources):
    df, paths = sources
    want = FrameTable(df, EDGY).to_frame()
    for kind in ("parquet", "csv"):
        got = open_table(paths[kind], EDGY, engine="duckdb").to_frame()
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-15)


def test_open_table_picks_the_engine_by_source(sources, census):
    df, paths = sources
    assert open_table(df, EDGY).engine == "pandas"
    assert open_table(paths["parquet"], EDGY).engine == "duckdb"
    assert open_table(paths["csv"], EDGY).engine == "pandas"  # a CSV is read in memory unless engine="duckdb"
    assert open_table(paths["csv"], EDGY, engine="duckdb").engine == "duckdb"
    table = open_table(paths["parquet"], EDGY)
    assert open_table(table, EDGY) is table
    with pytest.raises(DomainError, match="another domain"):
        open_table(table, census[1])
    with pytest.raises(ValueError, match="engine must be one of"):
        open_table(df, EDGY, engine="polars")
    with pytest.raises(ValueError, match="read in memory"):
        open_table(df, EDGY, engine="duckdb")


def test_a_malformed_csv_row_is_refused_without_quoting_it(tmp_path):
    """Nothing is sniffed from the private file (DuckDB would take a ragged row for the header),
    and DuckDB's error, which quotes the offending line, comes back without it."""
    path = tmp_path / "bad.csv"
    path.write_text("x,o\n0.5,low\n0.25,secret-value,9\n0.75,high\n")
    domain = Domain((Numeric("x", 0.0, 1.0), Ordinal("o", ("low", "mid", "high"))))
    with pytest.raises(DomainError, match="Expected Number of Columns: 2 Found: 3") as err:
        open_table(str(path), domain, engine="duckdb").check()
    assert "secret-value" not in str(err.value)
    path.write_text("x,o\n0.5,low\n0.75,high\n")
    assert len(open_table(str(path), domain, engine="duckdb")) == 2


@pytest.mark.parametrize("kind", ["pandas", "parquet", "csv", "duckdb"])
def test_a_table_reopened_under_a_refined_domain_counts_as_one_opened_under_it(sources, kind):
    """The same records under another domain (other bins, two categories merged) count as a table
    opened under that domain, and the first table still counts under its own: on DuckDB the two
    share one connection, and each keeps its own cubes."""
    df, paths = sources
    first = FrameTable(df, EDGY) if kind == "pandas" else open_table(paths[kind], EDGY)
    first.check()
    sets = all_sets(len(EDGY))
    before = first.marginals(sets)
    refined = Domain((Numeric("x", 0.0, 1.0, bins=(0, 0.25, 0.3, 1)), *EDGY.columns[1:3],
                      Categorical("c", ("a", "b", "it's", "d"), nullable=True, merged=("b", "d")), *EDGY.columns[4:]))
    again = first.reopened(refined)
    again.check()
    fresh = FrameTable(df, refined)
    for got, want in zip(again.marginals(sets), fresh.marginals(sets)):
        np.testing.assert_array_equal(got, want)
    assert again.marginal((0,)).shape == (3,) and again.marginal((3,)).shape == (4,)  # 3 bins; b and d in one cell
    for got, want in zip(first.marginals(sets), before):
        np.testing.assert_array_equal(got, want)
