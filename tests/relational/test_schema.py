"""Schemas: YAML round trip, the person path and bounds, and every malformed declaration refused
with a message naming the table."""

import pytest
import yaml

from privsynth.core.domain import Categorical, Domain
from privsynth.core.errors import DomainError
from privsynth.datasets import bank_schema
from privsynth.relational import ForeignKey, Schema, TableSpec, model_domain

D = Domain((Categorical("kind", ("a", "b")),))


def chain(**overrides):
    tables = {
        "people": TableSpec("people", "pid", D),
        "orders": TableSpec("orders", "oid", D, parent=ForeignKey("pid", "people"), max_per_parent=3),
        "lines": TableSpec("lines", "lid", D, parent=ForeignKey("oid", "orders"), max_per_parent=5),
    }
    tables.update(overrides)
    return Schema(tuple(tables.values()), person="people")


def test_bounds_multiply_along_the_path_and_parents_come_first():
    s = chain()
    assert s.rows_per_person("people") == 1
    assert s.rows_per_person("orders") == 3
    assert s.rows_per_person("lines") == 15
    assert s.private_order() == ("people", "orders", "lines")
    assert s.path_to_person("lines") == ("lines", "orders", "people")


def test_model_domains_add_context_and_counts():
    s = chain()
    assert model_domain(s, "people").names == ("kind", "n_orders")
    assert model_domain(s, "people")["n_orders"].categories == (0, 1, 2, 3)
    assert model_domain(s, "lines").names == ("kind", "orders.kind")
    narrowed = chain(orders=TableSpec("orders", "oid", Domain((Categorical("x", ("1",)), Categorical("kind", ("a",)))),
                                      parent=ForeignKey("pid", "people"), max_per_parent=3, context=()))
    assert model_domain(narrowed, "orders").names == ("x", "kind", "n_lines")


def test_yaml_round_trip_with_domain_files(tmp_path):
    D.to_file(tmp_path / "d.yaml")
    text = {
        "person": "people",
        "tables": {
            "people": {"primary_key": "pid", "domain": "d.yaml"},
            "orders": {"primary_key": "oid", "domain": "d.yaml", "parent": {"column": "pid", "references": "people"},
                       "max_per_parent": 2, "share": 2},
        },
    }
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(text))
    s = Schema.from_file(tmp_path / "schema.yaml")
    assert s.rows_per_person("orders") == 2 and s["orders"].share == 2.0
    s.to_file(tmp_path / "again.yaml")
    assert Schema.from_file(tmp_path / "again.yaml") == s
    assert Schema.from_file(tmp_path / "again.yaml").fingerprint() == s.fingerprint()


def test_the_bank_schema_has_two_parents_for_transactions():
    s = bank_schema()
    assert s["transactions"].references == (ForeignKey("merchant_id", "merchants"),)
    assert s.public_tables() == ("merchants",)
    assert s.rows_per_person("transactions") == 12  # min(4 x 8, max_per_person 12)


@pytest.mark.parametrize("change, message", [
    ({"person": "nobody"}, "person table"),
    ({"orders": TableSpec("orders", "oid", D, parent=ForeignKey("pid", "people"), max_per_parent=0)}, "max_per_parent"),
    ({"orders": TableSpec("orders", "oid", D, parent=ForeignKey("pid", "people"), max_per_parent=None)}, "max_per_parent"),
    ({"orders": TableSpec("orders", "oid", D)}, "needs a parent"),
    ({"orders": TableSpec("orders", "kind", D, parent=ForeignKey("pid", "people"), max_per_parent=2)}, "key columns"),
    ({"orders": TableSpec("orders", "oid", D, parent=ForeignKey("pid", "ghost"), max_per_parent=2)}, "private table"),
    ({"orders": TableSpec("orders", "oid", D, parent=ForeignKey("pid", "people"), max_per_parent=2, context=("age",))},
     "context columns"),
    ({"orders": TableSpec("orders", "oid", D, parent=ForeignKey("pid", "people"), max_per_parent=2,
                          references=(ForeignKey("kind", "people"),))}, "public"),
    ({"orders": TableSpec("orders", "oid", None, parent=ForeignKey("pid", "people"), max_per_parent=2)}, "domain"),
    ({"people": TableSpec("people", "pid", Domain((Categorical("n_orders", ("a",)),)))}, "rename"),
])
def test_malformed_schemas_are_refused(change, message):
    person = change.pop("person", "people")
    tables = {
        "people": TableSpec("people", "pid", D),
        "orders": TableSpec("orders", "oid", D, parent=ForeignKey("pid", "people"), max_per_parent=3),
    }
    tables.update(change)
    with pytest.raises(DomainError, match=message):
        Schema(tuple(tables.values()), person=person)


def test_cycles_never_reach_the_person_table():
    with pytest.raises(DomainError):
        Schema((TableSpec("people", "pid", D),
                TableSpec("a", "aid", D, parent=ForeignKey("bid", "b"), max_per_parent=1),
                TableSpec("b", "bid", D, parent=ForeignKey("aid", "a"), max_per_parent=1)), person="people")


def test_unknown_keys_in_a_file_are_named():
    with pytest.raises(DomainError, match="primary_kye"):
        Schema.from_dict({"person": "p", "tables": {"p": {"primary_kye": "id"}}})
