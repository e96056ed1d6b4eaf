"""Data sets: loaders with public domains, the benchmark tables by name (:func:`load`), and the
built-in generated census data."""

from privsynth.datasets.bank import BANK_DEPENDENCIES, bank_schema, make_bank
from privsynth.datasets.benchmark import SHARED_TABLES, TABLES, BenchmarkTable, load
from privsynth.datasets.census import CENSUS_DEPENDENCIES, census_domain, make_census
from privsynth.datasets.loaders import (
    ADULT_URL,
    data_dir,
    domain_file,
    download_adult,
    load_adult,
    load_adult_discretized,
    load_arx_adult,
    load_arx_hierarchies,
    packaged_adult,
    read_table,
)
from privsynth.datasets.spec import DatasetSpec

__all__ = [
    "DatasetSpec", "make_census", "make_bank", "bank_schema", "BANK_DEPENDENCIES",
    "census_domain", "CENSUS_DEPENDENCIES", "read_table", "data_dir", "domain_file",
    "load_adult", "load_adult_discretized", "load_arx_adult", "load_arx_hierarchies", "download_adult", "ADULT_URL",
    "packaged_adult", "load", "BenchmarkTable", "TABLES", "SHARED_TABLES",
]
