"""The command line on related tables: draft a schema, fit a database, sample a folder, verify it."""

import json

import pandas as pd
import pytest
import yaml

import privsynth as ps
from privsynth.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::privsynth.synthesizers.forecast.NoiseDominatedWarning")


@pytest.fixture
def folder(tmp_path):
    tables, schema = ps.datasets.make_bank(300, random_state=0)
    data = tmp_path / "bank"
    data.mkdir()
    for name, frame in tables.items():
        frame.to_csv(data / f"{name}.csv", index=False)
    schema.to_file(tmp_path / "schema.yaml")
    return tmp_path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_profile_drafts_a_schema_marked_inferred(folder, capsys):
    code, out, err = run(capsys, "profile", folder / "bank", "--related", "--out", folder / "draft.yaml")
    assert code == 0 and "person table 'customers'" in out and "public reference table" in out
    assert "read off the private data" in err
    draft = yaml.safe_load((folder / "draft.yaml").read_text())
    assert draft["provenance"] == "inferred" and draft["tables"]["accounts"]["parent"] == {"column": "customer_id",
                                                                                          "references": "customers"}
    code, out, err = run(capsys, "fit", "--schema", folder / "draft.yaml", "--data", folder / "bank", "--epsilon", "1",
                         "--out", folder / "draft.privsynth", "--seed", "0")
    assert code == 1 and "INVALID" in err  # fitted on an inferred schema: no guarantee until a person declares it


def test_fit_sample_verify_a_database(folder, capsys):
    model = folder / "bank.privsynth"
    code, out, _ = run(capsys, "fit", "--schema", folder / "schema.yaml", "--data", folder / "bank", "--epsilon", "1",
                       "--seed", "0", "--out", model)
    assert code == 0 and "add_remove_one_person_with_linked_rows" in out and "database model written" in out
    code, out, _ = run(capsys, "sample", model, "--out", folder / "synthetic", "--seed", "1")
    assert code == 0
    db = {name: pd.read_csv(folder / "synthetic" / f"{name}.csv") for name in ("customers", "accounts", "transactions")}
    assert db["accounts"]["customer_id"].isin(db["customers"]["customer_id"]).all()
    assert db["transactions"]["account_id"].isin(db["accounts"]["account_id"]).all()
    cert = json.loads((folder / "synthetic" / "database.certificate.json").read_text())
    assert set(cert["release"]["tables"]) == {"customers", "accounts", "transactions", "merchants"}
    (folder / "synthetic" / "bank.privsynth").write_bytes(model.read_bytes())
    code, out, _ = run(capsys, "verify", folder / "synthetic" / "database.certificate.json")
    assert code == 0 and "person level" in out and "matches the release certificate" in out
    with open(folder / "synthetic" / "accounts.csv", "a") as f:
        f.write("99999,1,loan,<2y,active\n")
    code, _, err = run(capsys, "verify", folder / "synthetic" / "database.certificate.json")
    assert code == 1 and "accounts.csv" in err
    code, out, _ = run(capsys, "verify", model)
    assert code == 0 and "person level" in out


def test_usage_errors_are_one_line(folder, capsys):
    code, _, err = run(capsys, "fit", "--schema", folder / "schema.yaml", "--domain", folder / "schema.yaml",
                       "--data", folder / "bank", "--epsilon", "1", "--out", folder / "x.privsynth")
    assert code == 2 and "--schema declares" in err
    code, _, err = run(capsys, "fit", "--data", folder / "bank", "--epsilon", "1", "--out", folder / "x.privsynth")
    assert code == 2 and "--domain" in err
    code, _, err = run(capsys, "fit", "--schema", folder / "schema.yaml", "--data", folder / "bank" / "customers.csv",
                       "--epsilon", "1", "--out", folder / "x.privsynth")
    assert code == 2 and "folder" in err
