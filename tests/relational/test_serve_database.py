"""Serving a database model: a zip of tables whose keys join, one table at a time for a seed,
the database certificate with its person-level check, and refusals that say what to change."""

import io
import zipfile

import pandas as pd
import pytest

import privsynth as ps

pytest.importorskip("fastapi")
pytestmark = pytest.mark.filterwarnings("ignore::privsynth.synthesizers.forecast.NoiseDominatedWarning")


@pytest.fixture(scope="module")
def client():
    from fastapi.testclient import TestClient

    from privsynth.serve import create_app

    tables, schema = ps.datasets.make_bank(300, random_state=0)
    single, domain = ps.datasets.make_census(300, random_state=0)
    models = {"bank": ps.relational.RelationalSynthesizer(epsilon=1.0, random_state=0).fit(tables, schema),
              "census": ps.synthesizers.IndependentMarginals(epsilon=1.0, random_state=0).fit(single, domain)}
    return TestClient(create_app(models, token="t0ken-for-tests"), headers={"Authorization": "Bearer t0ken-for-tests"})


def test_a_zip_of_tables_whose_keys_join(client):
    resp = client.get("/databases/bank/sample?persons=50&seed=3")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(resp.content))
    db = {n[:-4]: pd.read_csv(archive.open(n)) for n in archive.namelist() if n.endswith(".csv")}
    assert len(db["customers"]) == 50
    assert db["accounts"]["customer_id"].isin(db["customers"]["customer_id"]).all()
    assert db["transactions"]["account_id"].isin(db["accounts"]["account_id"]).all()
    one = client.get("/databases/bank/sample?persons=50&seed=3&table=accounts")
    assert one.status_code == 200
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(one.text)), db["accounts"])  # the same seed, the same database


def test_the_database_certificate_and_the_listing(client):
    body = client.get("/databases/bank/certificate").json()
    assert body["verification"]["ok"] and body["person_level"]["ok"]
    assert body["certificate"]["neighbouring"] == "add_remove_one_person_with_linked_rows"
    listed = client.get("/databases").json()
    assert listed[0]["name"] == "bank" and listed[0]["person_table"] == "customers"
    assert [m["name"] for m in client.get("/models").json()] == ["census"]


@pytest.mark.parametrize("query, status, words", [
    ("/databases/bank/sample?table=accounts", 400, "seed"),
    ("/databases/bank/sample?seed=1&table=ghosts", 400, "table must be one of"),
    ("/databases/nope/sample", 404, "GET /databases"),
    ("/models/bank/sample?n=5", 404, "database model"),
])
def test_refusals_say_what_to_change(client, query, status, words):
    resp = client.get(query)
    assert resp.status_code == status and words in resp.json()["detail"]


def test_the_token_is_needed(client):
    assert client.get("/databases", headers={"Authorization": ""}).status_code == 401
