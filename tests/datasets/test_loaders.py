import hashlib

import pandas as pd
import pytest

from privsynth import Domain, DomainError
from privsynth.datasets import (
    data_dir,
    download_adult,
    load_adult,
    load_adult_discretized,
    load_arx_adult,
    load_arx_hierarchies,
    packaged_adult,
    read_table,
)
from privsynth.datasets.census import make_census


def test_read_table_csv_and_parquet(tmp_path):
    df, domain = make_census(300, random_state=0)
    df.to_csv(tmp_path / "d.csv", index=False)
    df.to_parquet(tmp_path / "d.parquet", index=False)
    a = read_table(tmp_path / "d.csv", domain)
    b = read_table(tmp_path / "d.parquet", domain)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_table(tmp_path / "nope.csv", domain)


def test_data_dir_explains_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVSYNTH_DATA", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="PRIVSYNTH_DATA"):
        data_dir()


def test_packaged_adult_needs_no_shared_data(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVSYNTH_DATA", str(tmp_path / "missing"))
    monkeypatch.chdir(tmp_path)
    df, domain = load_adult()
    assert df.shape == (32561, 15) and domain.is_declared
    assert df["workclass"].isna().sum() > 0  # '?' became missing
    assert (packaged_adult().parent / "ADULT-ATTRIBUTION.md").read_text().count("CC BY 4.0") == 1


def test_packaged_adult_is_the_shared_file(shared_data):
    import gzip

    assert gzip.decompress(packaged_adult().read_bytes()) == (shared_data / "adult.csv").read_bytes()


def test_shared_data_loaders(shared_data, monkeypatch):
    monkeypatch.setenv("PRIVSYNTH_DATA", str(shared_data))
    disc, ddomain = load_adult_discretized()
    assert disc.shape == (48842, 14) and ddomain["age"].levels == 85
    arx, adomain = load_arx_adult()
    assert arx.shape == (30162, 9) and arx.isna().sum().sum() == 0
    hierarchies = load_arx_hierarchies()
    assert set(hierarchies) == set(adomain.names)
    assert hierarchies["age"].shape[1] >= 3


def _uci_format(tmp_path, rows=200):
    """The packaged adult.csv back in UCI's adult.data format: no header, ', ' separated, '?' for missing."""
    df = pd.read_csv(packaged_adult(), dtype=str, keep_default_na=False).head(rows)
    path = tmp_path / "adult.data"
    path.write_text("\n".join(", ".join(r) for r in df.itertuples(index=False)) + "\n\n")
    return path


def test_download_adult_from_a_local_url(tmp_path):
    src = _uci_format(tmp_path)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    path = download_adult(cache_dir=cache, url=src.as_uri(), sha256=digest)
    df, domain = load_adult(path=path)
    assert len(df) == 200 and domain["earning-class"].categories == ("<=50K", ">50K")
    src.unlink()  # cached: no second download
    assert download_adult(cache_dir=cache, url=src.as_uri()) == path


def test_download_adult_refuses_bad_hash_and_reports_failures(tmp_path):
    src = _uci_format(tmp_path)
    with pytest.raises(ValueError, match="sha256"):
        download_adult(cache_dir=tmp_path / "c", url=src.as_uri(), sha256="0" * 64)
    assert not (tmp_path / "c" / "adult.csv").exists()
    with pytest.raises(ConnectionError, match="local copy"):
        download_adult(cache_dir=tmp_path / "c", url=(tmp_path / "missing.data").as_uri())


def test_values_outside_the_declared_domain_fail_loudly(tmp_path):
    domain = Domain.from_dict({"columns": [{"name": "age", "kind": "numeric", "lower": 17, "upper": 90, "integer": True}]})
    (tmp_path / "a.csv").write_text("age\n20\n120\n")
    with pytest.raises(DomainError, match="'age' has values outside"):
        read_table(tmp_path / "a.csv", domain)
    assert read_table(tmp_path / "a.csv", domain, clip=True)["age"].tolist() == [20.0, 90.0]
