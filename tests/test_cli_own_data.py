"""The newcomer's path on the command line: profile, edit, fit (identifiers refused, then
dropped), sample, verify; the same with a DP-estimated domain; invalid certificates are loud."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

import privsynth as ps
from privsynth import Domain
from privsynth.cli import main
from privsynth.datasets.people import make_people


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def people_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("people") / "people.csv"
    make_people(1500, random_state=21).to_csv(path, index=False)
    return path


def declare(draft: Domain) -> Domain:
    """What a user does after profiling: keep the draft's columns, call it declared."""
    return Domain.from_dict({**draft.to_dict(), "provenance": "declared"})


def test_profile_flags_identifiers_and_writes_a_loadable_draft(people_csv, tmp_path, capsys):
    code, out, _ = run(capsys, "profile", people_csv, "--out", tmp_path / "d.yaml", "--report", tmp_path / "r.html")
    assert code == 0
    for column, kind in [("ssn", "US social security number"), ("email", "e-mail"), ("full_name", "person's name"),
                         ("card_number", "payment card")]:
        assert f"IDENTIFIER {column!r}: " in out and kind in out
    draft = Domain.from_file(tmp_path / "d.yaml")
    assert draft.provenance == "inferred" and "ssn" in draft.identifiers and "age" in draft
    assert (tmp_path / "r.html").read_text().count("<img") >= 3


def test_identifier_refused_then_dropped(people_csv, tmp_path, capsys):
    run(capsys, "profile", people_csv, "--out", tmp_path / "d.yaml")
    draft = declare(Domain.from_file(tmp_path / "d.yaml"))
    # The mistake of the issue: the SSN column declared as a category with every real SSN.
    data = pd.read_csv(people_csv, dtype=str)
    leaky = Domain.from_dict({**draft.to_dict(), "columns": [c.to_dict() for c in draft.columns]
                              + [{"name": "ssn", "kind": "categorical", "categories": sorted(data["ssn"])}]})
    leaky.to_file(tmp_path / "leaky.yaml")
    code, _, err = run(capsys, "fit", "--data", people_csv, "--domain", tmp_path / "leaky.yaml", "--epsilon", "1",
                       "--out", tmp_path / "m.privsynth")
    assert code == 2 and "'ssn' looks like a US social security number" in err and "role: identifier" in err
    assert not (tmp_path / "m.privsynth").exists()
    code, _, _ = run(capsys, "fit", "--data", people_csv, "--domain", tmp_path / "leaky.yaml", "--epsilon", "1",
                     "--out", tmp_path / "m.privsynth", "--allow-identifiers")
    assert code == 0
    draft.to_file(tmp_path / "declared.yaml")  # ssn back to role: identifier
    code, out, err = run(capsys, "fit", "--data", people_csv, "--domain", tmp_path / "declared.yaml", "--epsilon", "1",
                         "--out", tmp_path / "ok.privsynth")
    assert code == 0 and "VALID certificate" in out and "are dropped, never synthesized" in err
    code, out, _ = run(capsys, "sample", tmp_path / "ok.privsynth", "-n", "300", "--out", tmp_path / "s.csv")
    synthetic = pd.read_csv(tmp_path / "s.csv")
    assert code == 0 and "ssn" not in synthetic.columns and len(synthetic) == 300
    code, out, _ = run(capsys, "verify", tmp_path / "s.certificate.json")
    assert code == 0 and "CONSISTENT, NOT AUTHENTICATED" in out


def test_invalid_certificates_are_loud(people_csv, tmp_path, capsys):
    run(capsys, "profile", people_csv, "--out", tmp_path / "d.yaml")
    code, _, err = run(capsys, "fit", "--data", people_csv, "--domain", tmp_path / "d.yaml", "--epsilon", "1",
                       "--out", tmp_path / "m.privsynth")
    assert code == 1 and "INVALID" in err and "--allow-invalid" in err
    code, _, err = run(capsys, "sample", tmp_path / "m.privsynth", "-n", "10", "--out", tmp_path / "s.csv")
    assert code == 1 and "nothing written" in err and not (tmp_path / "s.csv").exists()
    code, _, _ = run(capsys, "sample", tmp_path / "m.privsynth", "-n", "10", "--out", tmp_path / "s.csv", "--allow-invalid")
    assert code == 0 and (tmp_path / "s.csv").exists()
    code, _, _ = run(capsys, "fit", "--data", people_csv, "--domain", tmp_path / "d.yaml", "--epsilon", "1",
                     "--out", tmp_path / "m2.privsynth", "--allow-invalid")
    assert code == 0


def test_dp_domain_gives_a_valid_certificate_without_a_hand_written_domain(people_csv, tmp_path, capsys):
    data = pd.read_csv(people_csv, dtype=str).rename(columns={"email": "contact"})  # a name that says nothing
    data.to_csv(tmp_path / "people.csv", index=False)
    people_csv = tmp_path / "people.csv"
    code, out, err = run(capsys, "profile", people_csv, "--dp", "--epsilon", "0.3", "--out", tmp_path / "dp.yaml",
                         "--exclude", "notes")
    assert code == 0 and "DP domain written" in out
    assert "dropped" in out and "'contact'" in out.split("dropped")[1].splitlines()[0]  # no address released: dropped
    domain = Domain.from_file(tmp_path / "dp.yaml")
    assert domain.provenance == "dp" and "ssn" in domain.identifiers and "customer_id" in domain.identifiers
    assert "contact" not in domain and "contact" in domain.identifiers  # DP itself keeps every address out
    assert "notes" not in domain and "notes" not in domain.identifiers
    code, out, err = run(capsys, "fit", "--data", people_csv, "--domain", tmp_path / "dp.yaml", "--epsilon", "1",
                         "--out", tmp_path / "m.privsynth")
    assert code == 0 and "VALID certificate" in out, err
    code, out, _ = run(capsys, "verify", tmp_path / "m.privsynth", "--require-valid", "--max-epsilon", "1.31")
    assert code == 0 and "CONSISTENT" in out
    cert = json.loads(run(capsys, "certificate", tmp_path / "m.privsynth", "--json")[1])
    assert cert["entries"][0]["label"].startswith("domain:") and cert["valid"]


def test_dp_profile_needs_epsilon_and_refuses_a_report(people_csv, tmp_path, capsys):
    code, _, err = run(capsys, "profile", people_csv, "--dp", "--out", tmp_path / "d.yaml")
    assert code == 2 and "--epsilon" in err
    code, _, err = run(capsys, "profile", people_csv, "--dp", "--epsilon", "1", "--report", tmp_path / "r.html",
                       "--out", tmp_path / "d.yaml")
    assert code == 2 and "not DP" in err


def test_rough_edges(tmp_path, capsys):
    (tmp_path / "h.csv").write_text("a,b\n")
    code, _, err = run(capsys, "profile", tmp_path / "h.csv", "--out", tmp_path / "d.yaml")
    assert code == 2 and "header but no records" in err and "dtype" not in err
    (tmp_path / "l.csv").write_bytes("city,n\nZürich,1\nGenève,2\n".encode("latin-1") * 1)
    code, _, err = run(capsys, "profile", tmp_path / "l.csv", "--out", tmp_path / "d.yaml")
    assert code == 2 and "--encoding" in err and "Traceback" not in err
    code, _, _ = run(capsys, "profile", tmp_path / "l.csv", "--out", tmp_path / "d.yaml", "--encoding", "latin-1")
    assert code == 0 and "Zürich" in yaml.safe_load((tmp_path / "d.yaml").read_text(encoding="utf-8"))["columns"][0]["categories"]


@pytest.mark.parametrize("odd", ["", "41.5", "unknown", "042"])
def test_profile_dp_publishes_the_same_domain_with_or_without_one_odd_record(tmp_path, capsys, odd):
    """Issue #21, item 2: on 785087b a CSV column became text (or float) when one record held a
    missing age, 41.5, 'unknown' or '042', so that record decided the published domain with
    certainty. With the same secret seed, D and D + that record now give identical files."""
    from privsynth.datasets import make_census

    data, _ = make_census(2000, random_state=3)
    data = data[["age", "sex", "hours-per-week", "income"]]
    data.to_csv(tmp_path / "d.csv", index=False)
    text = (tmp_path / "d.csv").read_text()
    first = text.splitlines()[1].split(",")
    (tmp_path / "dt.csv").write_text(text + ",".join([odd, *first[1:]]) + "\n")
    for name in ("d", "dt"):
        code, _, err = run(capsys, "profile", tmp_path / f"{name}.csv", "--dp", "--epsilon", "0.3", "--seed", "5",
                           "--out", tmp_path / f"{name}.yaml")
        assert code == 0, err
    assert (tmp_path / "d.yaml").read_text() == (tmp_path / "dt.yaml").read_text()
    domain = Domain.from_file(tmp_path / "d.yaml")
    assert domain["age"].kind == "numeric" and domain["age"].integer and not domain["income"].integer


def test_profile_dp_takes_declared_kinds(tmp_path, capsys):
    from privsynth.datasets import make_census

    data, _ = make_census(1000, random_state=3)
    data[["age", "sex"]].to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "kinds.yaml").write_text("age: float\nsex: categorical\n")
    for spec in ("age=float,sex=text", tmp_path / "kinds.yaml"):
        code, _, err = run(capsys, "profile", tmp_path / "d.csv", "--dp", "--epsilon", "0.3", "--kinds", spec, "--out", tmp_path / "k.yaml")
        assert code == 0, err
        domain = Domain.from_file(tmp_path / "k.yaml")
        assert not domain["age"].integer and not any("kind of" in e["label"] for e in domain.estimation["entries"])
    code, _, err = run(capsys, "profile", tmp_path / "d.csv", "--dp", "--epsilon", "0.3", "--kinds", "age=date",
                       "--out", tmp_path / "x.yaml")
    assert code == 2 and "not one of" in err


def test_profile_dp_at_epsilon_0_3_survives_a_constant_column_and_names_duplicates(tmp_path, capsys):
    """Issue #22, item 4: on 785087b `profile --dp --epsilon 0.3` stopped with "lower bound 0 must be
    below upper bound 0" on an all-zero count, kept identifier and date columns as constant
    '(other)' columns, took `score_text` for an identifier by its name, and renamed a duplicate
    header to `decile_score.1` without a word."""
    from privsynth.datasets import make_census

    data, _ = make_census(3000, random_state=5)
    table = data[["age", "sex", "race"]].assign(
        juv_fel_count=0, score_text=np.random.default_rng(0).choice(["Low", "Medium", "High"], len(data)),
        case_number=[f"13{i:06d}CF10A" for i in range(len(data))], screening_date=[f"2013-{1 + i % 12:02d}-{1 + i % 28:02d} 10:{i % 60:02d}"
                                                                                    for i in range(len(data))])
    table.to_csv(tmp_path / "t.csv", index=False)
    # A secret seed: the bounds are a DP output, (0, 1) with high probability (100 of 100 seeds), not always (a fresh
    # CI run drew an upper bound of 2,000,000 once)
    code, out, err = run(capsys, "profile", tmp_path / "t.csv", "--dp", "--epsilon", "0.3", "--seed", "0", "--out", tmp_path / "d.yaml")
    assert code == 0, err
    domain = Domain.from_file(tmp_path / "d.yaml")
    assert (domain["juv_fel_count"].lower, domain["juv_fel_count"].upper) == (0, 1)
    assert "score_text" in domain and domain["score_text"].kind == "categorical"
    assert "case_number" not in domain and "screening_date" not in domain
    assert {"case_number", "screening_date"} <= set(domain.identifiers) and "dropped" in out
    header = (tmp_path / "t.csv").read_text().splitlines()
    (tmp_path / "dup.csv").write_text("\n".join([header[0] + ",age"] + [line + ",1" for line in header[1:]]) + "\n")
    code, _, err = run(capsys, "profile", tmp_path / "dup.csv", "--dp", "--epsilon", "0.3", "--out", tmp_path / "x.yaml")
    assert code == 2 and "'age' in columns 1, 8" in err


def test_profile_reads_parquet_and_duckdb_tables_in_the_engine(tmp_path, capsys):
    """`profile` on Parquet or a duckdb:// table: the draft from a sample of rows, --dp with its
    statistics computed by DuckDB."""
    duckdb = pytest.importorskip("duckdb")
    df, _ = ps.datasets.make_census(3000, random_state=1)
    df.to_parquet(tmp_path / "c.parquet")
    with duckdb.connect(str(tmp_path / "w.db")) as con:
        con.register("frame", df)
        con.execute("CREATE TABLE people AS SELECT * FROM frame")
    assert main(["profile", str(tmp_path / "c.parquet"), "--sample-rows", "500", "--out", str(tmp_path / "draft.yaml")]) == 0
    draft = ps.Domain.from_file(tmp_path / "draft.yaml")
    assert draft.provenance == "inferred" and set(draft.names) <= set(df.columns)
    for source in (str(tmp_path / "c.parquet"), f"duckdb://{tmp_path / 'w.db'}?table=people"):
        assert main(["profile", source, "--dp", "--epsilon", "1", "--seed", "3", "--exclude", "income",
                     "--out", str(tmp_path / "dp.yaml")]) == 0
        domain = ps.Domain.from_file(tmp_path / "dp.yaml")
        assert domain.provenance == "dp" and "income" not in domain.names and domain["age"].kind == "numeric"
        assert domain["age"].integer  # the schema declares it an integer column: no charge for its kind
        assert not any("kind of 'age'" in e["label"] for e in domain.estimation["entries"])
    capsys.readouterr()
