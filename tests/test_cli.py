import json

import pandas as pd
import pytest

import privsynth as ps
from privsynth.cli import main
from privsynth.datasets import make_census


@pytest.fixture
def files(tmp_path):
    df, domain = make_census(600, random_state=0)
    df.to_csv(tmp_path / "data.csv", index=False)
    domain.to_file(tmp_path / "domain.yaml")
    return tmp_path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_fit_sample_certificate_verify(files, capsys):
    model = files / "m.privsynth"
    code, out, _ = run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml",
                       "--epsilon", "1", "--seed", "0", "--out", model)
    assert code == 0 and "VALID" in out and "sha256" in out
    code, out, _ = run(capsys, "sample", model, "-n", "50", "--out", files / "s.parquet")
    assert code == 0 and len(pd.read_parquet(files / "s.parquet")) == 50
    cert = files / "s.certificate.json"
    assert json.loads(cert.read_text())["spent"]["epsilon"] <= 1.0
    code, out, _ = run(capsys, "certificate", model)
    assert code == 0 and "epsilon=1" in out
    code, out, _ = run(capsys, "certificate", cert, "--json")
    assert code == 0 and json.loads(out)["format"].startswith("privsynth-certificate")
    for path in (model, cert):
        code, out, _ = run(capsys, "verify", path)
        assert code == 0 and "CONSISTENT, NOT AUTHENTICATED" in out and "VERIFIED" not in out  # unsigned: never "VERIFIED"


@pytest.mark.parametrize("name", ["independent", "privbayes", "dpgaussiancopula", "mst", "aim",
                                  # DP-SGD models: saved and verified by test_dpsgd.py's contract test in the default run
                                  pytest.param("dpvae", marks=pytest.mark.slow), pytest.param("dpgan", marks=pytest.mark.slow),
                                  pytest.param("neuralaim", marks=pytest.mark.slow),
                                  pytest.param("dptransformer", marks=pytest.mark.slow),
                                  pytest.param("dpdiffusion", marks=pytest.mark.slow)])
@pytest.mark.parametrize("delta", ["1e-6"])
def test_verify_passes_on_saved_models_of_every_synthesizer(files, capsys, name, delta):
    model = files / f"{name}.privsynth"
    code, _, err = run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--synthesizer", name,
                       "--epsilon", "0.7", "--delta", delta, "--seed", "1", "--out", model)
    assert code == 0, err
    code, out, _ = run(capsys, "verify", model)
    assert code == 0 and "CONSISTENT" in out


def test_verify_fails_on_tampering(files, capsys):
    model = files / "m.privsynth"
    run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--epsilon", "1", "--out", model)
    raw = bytearray(model.read_bytes())
    raw[len(raw) // 3] ^= 1
    model.write_bytes(bytes(raw))
    code, _, err = run(capsys, "verify", model)
    assert code == 1 and "error" in err
    run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--epsilon", "1", "--out", model)
    run(capsys, "sample", model, "-n", "5", "--out", files / "s.csv")
    doc = json.loads((files / "s.certificate.json").read_text())
    doc["spent"]["epsilon"] = 0.1
    (files / "s.certificate.json").write_text(json.dumps(doc))
    code, _, err = run(capsys, "verify", files / "s.certificate.json")
    assert code == 1 and "differs from the certificate in the model file" in err
    model.unlink()  # without the model beside it, the arithmetic fails on its own
    code, out, _ = run(capsys, "verify", files / "s.certificate.json")
    assert code == 1 and "FAILED" in out


def test_bad_input_gives_one_line_and_exit_2(files, capsys):
    def fit(data, epsilon="1"):
        return run(capsys, "fit", "--data", files / data, "--domain", files / "domain.yaml", "--epsilon", epsilon, "--out", files / "m")

    code, _, err = fit("missing.csv")
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    code, _, err = fit("data.csv", "-1")
    assert code == 2 and "epsilon" in err
    (files / "bad.csv").write_text("age\n1000\n")
    code, _, err = fit("bad.csv")
    assert code == 2 and "domain" in err
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--epsilon", "x"])
    assert exc.value.code == 2
    code, _, err = run(capsys, "verify", files / "data.csv")
    assert code == 1 and "not a valid privsynth model file" in err


def test_demo(capsys):
    code, out, _ = run(capsys, "demo", "--rows", "500", "--epsilons", "0.5", "2")
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("epsilon=")]
    assert len(lines) == 2 and all("certificate verified" in line and "TVD=" in line for line in lines)


def test_signed_release_end_to_end_and_a_forgery_refused(files, capsys):
    """keygen -> fit --sign-key -> sample --sign-key -> verify --trusted-key; a consistently forged
    model file (epsilon halved, hashes recomputed) passes plain verify but not --trusted-key."""
    from privsynth.testing import forge_lower_epsilon

    code, out, _ = run(capsys, "keygen", "--out", files / "me")
    assert code == 0 and "ed25519:" in out and (files / "me.key").stat().st_mode & 0o077 == 0
    model = files / "m.privsynth"
    assert run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--epsilon", "1",
               "--out", model, "--sign-key", files / "me.key")[0] == 0
    assert run(capsys, "sample", model, "-n", "30", "--out", files / "s.csv", "--trusted-key", files / "me.pub",
               "--sign-key", files / "me.key")[0] == 0
    for path in (model, files / "s.certificate.json"):
        code, out, _ = run(capsys, "verify", path, "--trusted-key", files / "me.pub", "--max-epsilon", "1")
        assert code == 0 and "VERIFIED: consistent, and authentic" in out and "a trusted key" in out
    forge_lower_epsilon(model, files / "forged.privsynth")
    code, out, _ = run(capsys, "verify", files / "forged.privsynth")
    assert code == 0 and "not signed" in out  # the arithmetic of a consistent forgery checks out...
    code, _, err = run(capsys, "verify", files / "forged.privsynth", "--trusted-key", files / "me.pub")
    assert code == 1 and err.count("\n") == 1 and "not signed" in err  # ...but it is not signed by a trusted key
    code, _, err = run(capsys, "verify", model, "--trusted-key", files / "me.pub", "--max-epsilon", "0.5")
    assert code == 1 and "max_epsilon" in err
    doc = json.loads((files / "s.certificate.json").read_text())
    doc["spent"]["epsilon"] = 0.5
    (files / "s.certificate.json").write_text(json.dumps(doc))
    code, _, err = run(capsys, "verify", files / "s.certificate.json", "--trusted-key", files / "me.pub")
    assert code == 1 and "changed after signing" in err
    (files / "s.csv").write_text("tampered\n")
    code, _, err = run(capsys, "verify", files / "s.certificate.json")
    assert code == 1


def test_sample_with_the_stratified_sampler_records_it_and_refuses_models_without_one(files, capsys):
    mst = files / "mst.privsynth"
    code, _, err = run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--synthesizer", "mst",
                       "--epsilon", "1", "--delta", "1e-6", "--seed", "0", "--out", mst)
    assert code == 0, err
    code, _, err = run(capsys, "sample", mst, "-n", "40", "--sampler", "stratified", "--seed", "3", "--out", files / "s.csv")
    assert code == 0, err
    release = json.loads((files / "s.certificate.json").read_text())["release"]
    assert release["sampler"] == "stratified" and release["sample_seed"] == 3
    expected = ps.load(mst).set_params(sampler="stratified").sample(40, random_state=3).to_csv(index=False)
    assert (files / "s.csv").read_text() == expected
    code, _, err = run(capsys, "sample", mst, "-n", "40", "--out", files / "t.csv")
    assert code == 0 and json.loads((files / "t.certificate.json").read_text())["release"]["sampler"] == "iid"
    other = files / "pb.privsynth"
    run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--synthesizer", "privbayes",
        "--epsilon", "1", "--out", other)
    code, _, err = run(capsys, "sample", other, "-n", "40", "--sampler", "stratified", "--out", files / "u.csv")
    assert code == 2 and "only MST and AIM" in err and not (files / "u.csv").exists()


def test_a_forged_unsigned_release_certificate_is_never_verified(files, capsys):
    """Issue #21, item 6: on 785087b a made-up, unsigned certificate.json claiming epsilon 0.01
    (consistent arithmetic, the data's hash matching) printed VERIFIED. Now it is at most
    "consistent, not authenticated", and when the model file it names is beside it, the two
    certificates are compared."""
    model = files / "m.privsynth"
    run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--epsilon", "1", "--out", model)
    run(capsys, "sample", model, "-n", "20", "--out", files / "s.csv")
    cert_path = files / "s.certificate.json"
    doc = json.loads(cert_path.read_text())
    assert doc["release"]["model"] == "m.privsynth"
    code, out, _ = run(capsys, "verify", cert_path)
    assert code == 0 and "matches the release certificate" in out
    doc["entries"] = [{"label": "made up", "event": {"kind": "laplace", "noise_multiplier": 100.0, "discrete": True}}]
    doc["spent"] = {"epsilon": 0.01, "delta": 0.0}
    cert_path.write_text(json.dumps(doc))
    code, out, err = run(capsys, "verify", cert_path)
    assert code == 1 and "differs from the certificate in the model file" in err and "VERIFIED" not in out
    model.rename(files / "elsewhere.privsynth")
    code, out, _ = run(capsys, "verify", cert_path)
    assert code == 0 and "recomputed epsilon=0.01" in out and "CONSISTENT, NOT AUTHENTICATED" in out and "VERIFIED" not in out


def test_max_delta_is_checked_by_sample_and_verify(files, capsys):
    model = files / "d.privsynth"
    code, _, err = run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--synthesizer", "mst",
                       "--epsilon", "1", "--delta", "1e-3", "--out", model)
    assert code == 2 and "above 0.0001" in err and not model.exists()
    assert run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--synthesizer", "mst",
               "--epsilon", "1", "--delta", "1e-3", "--allow-large-delta", "--out", model)[0] == 0
    code, _, err = run(capsys, "sample", model, "-n", "5", "--out", files / "s.csv")
    assert code == 1 and "over max_delta" in err
    code, _, err = run(capsys, "verify", model)
    assert code == 1 and "over max_delta" in err
    assert run(capsys, "verify", model, "--max-delta", "1e-3")[0] == 0


def test_rough_edges_are_one_line_and_exit_2(files, capsys, tmp_path):
    """Issue #22, item 6: tracebacks for these on 785087b, and exit codes that differed by command."""
    model = files / "m.privsynth"
    assert run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--epsilon", "1", "--out", model)[0] == 0
    (tmp_path / "folder").mkdir()
    cases = [
        (["fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--epsilon", "1", "--encoding", "bogus",
          "--out", tmp_path / "x.privsynth"], "Unknown text encoding 'bogus'"),
        (["fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--epsilon", "1", "--out", tmp_path / "folder"], ""),
        (["sample", model, "-n", "5", "--out", tmp_path / "x.xlsx"], "writes .csv or .parquet"),
        (["sample", tmp_path / "missing.privsynth", "-n", "5", "--out", tmp_path / "x.csv"], "does not exist"),
        (["verify", tmp_path / "missing.privsynth"], "does not exist"),
        (["certificate", tmp_path / "missing.privsynth"], "does not exist"),
        (["profile", files / "data.csv", "--out", tmp_path / "d.yaml", "--report", tmp_path / "r.pdf"], "written as .html or .md"),
        (["serve", model, "--port", "99999", "--insecure-no-auth"], "--port must be between 1 and 65535"),
    ]
    for argv, says in cases:
        code, _, err = run(capsys, *argv)
        # warnings about the fit itself (a small table: NoiseDominatedWarning) come first, on lines of their own
        err = "".join(line for line in err.splitlines(keepends=True) if not line.startswith("privsynth: warning:"))
        assert code == 2 and err.count("\n") == 1 and err.startswith("privsynth: error:") and says in err, (argv, err)


def test_a_busy_port_is_bad_input(files, capsys):
    import socket

    pytest.importorskip("fastapi")
    model = files / "m.privsynth"
    run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--epsilon", "1", "--out", model)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, _, err = run(capsys, "serve", model, "--port", str(busy.getsockname()[1]), "--insecure-no-auth")
    assert code == 2 and "cannot listen there" in err


def test_fit_progress_goes_to_the_log_without_a_terminal(files, capsys, caplog, monkeypatch):
    import logging

    import privsynth.core.progress as progress

    monkeypatch.setattr(progress, "LOG_EVERY", 0.0)  # a line at every step, as a long fit gets every 30 s

    with caplog.at_level(logging.INFO, logger="privsynth.progress"):
        code, _, _ = run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--synthesizer", "mst",
                         "--epsilon", "1", "--out", files / "p.privsynth")
    assert code == 0 and any("MST:" in r.getMessage() and "(done)" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="privsynth.progress"):
        run(capsys, "fit", "--data", files / "data.csv", "--domain", files / "domain.yaml", "--synthesizer", "mst",
            "--epsilon", "1", "--quiet", "--out", files / "q.privsynth")
    assert not [r for r in caplog.records if r.name == "privsynth.progress"]


def test_fit_from_parquet_and_a_duckdb_table_gives_the_csv_fit(files, capsys):
    """`fit --data x.parquet` and `--data duckdb:///db?table=t` count in DuckDB: with the same
    secret seed the model is the one fitted from the CSV in memory."""
    duckdb = pytest.importorskip("duckdb")
    df = pd.read_csv(files / "data.csv")
    df.to_parquet(files / "data.parquet")
    with duckdb.connect(str(files / "w.db")) as con:
        con.register("frame", df)
        con.execute("CREATE TABLE people AS SELECT * FROM frame")
    models = {}
    for name, data in (("csv", files / "data.csv"), ("parquet", files / "data.parquet"),
                       ("duckdb", f"duckdb://{files / 'w.db'}?table=people")):
        models[name] = files / f"{name}.privsynth"
        code, out, err = run(capsys, "fit", "--data", data, "--domain", files / "domain.yaml", "--synthesizer", "privbayes",
                             "--epsilon", "1", "--seed", "4", "--quiet", "--out", models[name])
        assert code == 0, err
    loaded = {k: ps.load(v) for k, v in models.items()}
    for name in ("parquet", "duckdb"):
        assert loaded[name].network_ == loaded["csv"].network_
        for a, b in zip(loaded[name].conditionals_, loaded["csv"].conditionals_):
            assert (a == b).all()
    code, _, err = run(capsys, "fit", "--data", f"duckdb://{files / 'nope.db'}?table=people", "--domain", files / "domain.yaml",
                       "--epsilon", "1", "--out", files / "x.privsynth")
    assert code == 2 and "does not exist" in err


def test_fit_with_the_papers_dp_preprocessing_certifies_the_whole_epsilon(tmp_path, capsys):
    """`fit --dp-preprocess merge bins` spends a tenth of --epsilon on the rare-category merge and
    PrivTree bins, the rest on the fit; the model's domain carries those charges, its certificate
    the whole budget, and DuckDB on Parquet gives the CSV's model."""
    df, domain = ps.datasets.load_adult()
    df = df.iloc[:3000]
    df.to_csv(tmp_path / "adult.csv", index=False)
    df.to_parquet(tmp_path / "adult.parquet")
    domain.to_file(tmp_path / "adult.yaml")
    models = {}
    for kind in ("csv", "parquet"):
        models[kind] = tmp_path / f"{kind}.privsynth"
        code, out, err = run(capsys, "fit", "--data", tmp_path / f"adult.{kind}", "--domain", tmp_path / "adult.yaml",
                             "--synthesizer", "mst", "--epsilon", "1", "--dp-preprocess", "merge", "bins", "--seed", "2",
                             "--quiet", "--out", models[kind])
        assert code == 0, err
    csv, parquet = ps.load(models["csv"]), ps.load(models["parquet"])
    assert csv.domain_.provenance == "dp" and csv.domain_["native-country"].merged
    assert csv.domain_.estimation["epsilon"] == pytest.approx(0.1) and csv.epsilon == pytest.approx(0.9)
    assert 0.99 < csv.certificate_.spent.epsilon <= 1.0 + 1e-9
    assert parquet.domain_.fingerprint() == csv.domain_.fingerprint()
    assert [e.event for e in parquet.certificate_.entries] == [e.event for e in csv.certificate_.entries]
    code, _, err = run(capsys, "fit", "--data", tmp_path / "adult.csv", "--domain", tmp_path / "adult.yaml", "--epsilon", "1",
                       "--dp-preprocess", "bins", "--preprocess-share", "1.5", "--out", tmp_path / "x.privsynth")
    assert code == 2 and "share of epsilon must be in (0, 1)" in err
    code, _, err = run(capsys, "fit", "--data", tmp_path / "adult.csv", "--domain", tmp_path / "adult.yaml", "--epsilon", "1",
                       "--dp-preprocess", "merge", "--secure", "--out", tmp_path / "y.privsynth")
    assert code == 2 and "no --secure mode" in err and not (tmp_path / "y.privsynth").exists()
