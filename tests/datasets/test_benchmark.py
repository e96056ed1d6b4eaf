"""The benchmark tables by name (issue #24, first part): splits, declared domains, targets."""

import json

import pytest

import privsynth as ps
from privsynth.datasets.benchmark import SHARED_TABLES, shared_tables_available


def test_the_built_in_tables_load_without_shared_data():
    census = ps.datasets.load("census")
    assert (len(census.train), len(census.val), len(census.test)) == (4000, 1000, 1000) and census.target in census.domain
    adult = ps.datasets.load("adult")
    assert len(adult.train) == 32561 and adult.target == "earning-class" and adult.test.empty


def test_unknown_names_and_missing_files_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="choose from"):
        ps.datasets.load("nope")
    (tmp_path / "benchmark").mkdir()
    with pytest.raises(FileNotFoundError, match="PRIVSYNTH_DATA"):
        ps.datasets.load("shoppers", data_dir=tmp_path)


@pytest.mark.parametrize("name", SHARED_TABLES)
def test_each_shared_table_has_its_published_split_domain_and_task(shared_data, name):
    if not shared_tables_available(shared_data):
        pytest.skip("the shared data has no benchmark/ folder")
    table = ps.datasets.load(name, data_dir=shared_data)
    meta = json.loads((shared_data / "benchmark" / name / f"{name}.json").read_text())
    assert (len(table.train), len(table.val), len(table.test)) == (meta["train_size"], meta["val_size"], meta["test_size"])
    assert table.task == meta["task"] and table.target == "label" and list(table.domain.names)[-1] == "label"
    assert "published with SynMeter's benchmark" in table.domain.source
    for part in (table.train, table.val, table.test):  # every row inside the published domain
        ps.core.validate(part, table.domain)


def test_a_fit_on_a_benchmark_table_says_where_its_domain_comes_from(shared_data):
    if not shared_tables_available(shared_data):
        pytest.skip("the shared data has no benchmark/ folder")
    table = ps.datasets.load("obesity", data_dir=shared_data)
    synth = ps.synthesizers.MST(epsilon=1.0, random_state=0, progress=False).fit(table.train, table.domain)
    assert any(a.startswith("domain source: the metadata published with SynMeter's benchmark table 'obesity'")
               for a in synth.certificate_.assumptions)
    assert ps.Domain.from_dict(table.domain.to_dict()) == table.domain
