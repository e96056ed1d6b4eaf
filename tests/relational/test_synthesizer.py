"""The relational synthesizer: keys that join, bounds that hold, one database certificate that
recomputes, model files, and refusals with messages."""

import numpy as np
import pandas as pd
import pytest

import privsynth as ps
from privsynth.core.errors import BudgetExceededError, DomainError, IntegrityError, TrustError
from privsynth.evaluation.relational import cardinality_tvd, referential_integrity
from privsynth.privacy import NEIGHBOURING_PERSON
from privsynth.privacy.accountants import RdpAccountant
from privsynth.privacy.group import person_level_event
from privsynth.relational import RelationalSynthesizer, verify_database
from privsynth.synthesizers.forecast import NoiseDominatedWarning

pytestmark = pytest.mark.filterwarnings("ignore::privsynth.synthesizers.forecast.NoiseDominatedWarning")  # small tables


@pytest.fixture(scope="module")
def bank():
    return ps.datasets.make_bank(400, random_state=0)


@pytest.fixture(scope="module")
def fitted(bank):
    tables, schema = bank
    with pytest.warns(NoiseDominatedWarning, match="table .transactions. .up to 12 rows per person"):
        return RelationalSynthesizer(epsilon=2.0, delta=1e-6, random_state=0).fit(tables, schema)


def test_every_key_resolves_and_counts_respect_the_bounds(fitted, bank):
    _, schema = bank
    db = fitted.sample(random_state=0)
    result = referential_integrity(db, schema)
    assert result.rate == 1.0 and result.unique_primary_keys
    assert set(db) == {"customers", "accounts", "transactions", "merchants"}
    assert db["accounts"].groupby("customer_id").size().max() <= 4
    assert db["transactions"].groupby("account_id").size().max() <= 8
    assert len(db["customers"]) == fitted.n_hat_
    assert list(db["customers"].columns) == ["customer_id", "age_band", "region", "segment", "churned"]  # the name is never modelled
    assert list(db["transactions"].columns) == ["transaction_id", "account_id", "channel", "amount", "merchant_id"]
    again = fitted.sample(random_state=0)
    for name in db:
        pd.testing.assert_frame_equal(db[name], again[name])
    assert len(fitted.sample(50, random_state=1)["customers"]) == 50


def test_children_follow_their_parent_in_the_sample(bank):
    """Without noise to speak of, a parent's type decides its children's channel as in the data
    (savings accounts never pay by card; credit accounts never at a branch)."""
    tables, schema = bank
    model = RelationalSynthesizer(epsilon=1e4, delta=1e-6, random_state=0).fit(tables, schema)
    db = model.sample(random_state=0)
    joined = db["transactions"].merge(db["accounts"], on="account_id")
    share = pd.crosstab(joined["type"], joined["channel"], normalize="index")
    assert share.loc["savings", "card"] < 0.05 and share.loc["credit", "branch"] < 0.05
    assert cardinality_tvd(tables, db, schema, "accounts") < 0.1


def test_the_database_certificate_recomputes_from_the_tables(fitted):
    cert = fitted.certificate_
    assert cert.neighbouring == NEIGHBOURING_PERSON
    assert ps.verify(cert).ok
    assert verify_database(cert).ok
    assert 0.99 * 2.0 < cert.spent.epsilon <= 2.0
    tables = cert.parameters["tables"]
    assert tables["transactions"]["rows_per_person"] == 12 and tables["customers"]["rows_per_person"] == 1
    expected = [person_level_event(e.event, tables[name]["rows_per_person"])
                for name in ("customers", "accounts", "transactions") for e in fitted.models_[name].certificate_.entries]
    assert sorted(map(repr, expected)) == sorted(repr(e.event) for e in cert.entries)
    # an independent recomputation of the spend from the person-level events
    assert RdpAccountant().epsilon(expected, 1e-6) == pytest.approx(cert.spent.epsilon, rel=1e-9)
    assert "random_state" not in str(cert.parameters)  # the secret seed is written nowhere
    assert any(a.startswith("reproducible run") for a in cert.assumptions)  # a seeded fit: the seed is a secret key


def test_a_tampered_database_certificate_fails(fitted):
    import dataclasses

    cert = fitted.certificate_
    fewer = dataclasses.replace(cert, entries=cert.entries[:-1])
    assert not verify_database(fewer).ok
    info = {**cert.parameters["tables"]["transactions"], "rows_per_person": 1}
    understated = dataclasses.replace(cert, parameters={**cert.parameters, "tables": {**cert.parameters["tables"], "transactions": info}})
    assert not verify_database(understated).ok


def test_save_and_load_round_trip(fitted, tmp_path):
    path = fitted.save(tmp_path / "bank.privsynth")
    loaded = ps.relational.load(path)
    a, b = fitted.sample(random_state=3), loaded.sample(random_state=3)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_dtype=False)
    assert loaded.certificate_ == fitted.certificate_
    with pytest.raises(IntegrityError, match="privsynth.relational.load"):
        ps.load(path)
    with pytest.raises(TrustError):
        ps.relational.load(path, max_epsilon=1.0)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "bad.privsynth").write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        ps.relational.load(tmp_path / "bad.privsynth")


def test_fits_from_a_folder_of_csv_files(bank, tmp_path):
    tables, schema = bank
    for name, frame in tables.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    model = RelationalSynthesizer(epsilon=1.0, random_state=0, synthesizer="independent").fit(tmp_path, schema)
    assert referential_integrity(model.sample(random_state=0), schema).rate == 1.0


def test_bounding_keeps_a_uniform_random_subset(bank):
    """A person with more accounts than the bound keeps each with equal probability."""
    from privsynth.data.relational import bound_contributions

    frame = pd.DataFrame({"pid": [1] * 10 + [2], "x": range(11)})
    kept = np.zeros(11)
    for seed in range(600):
        out = bound_contributions(frame, parent_key="pid", kept_parents=pd.Series([1, 2]), bound=3,
                                  rng=np.random.default_rng(seed))
        assert out.groupby("pid").size().tolist() == [3, 1]
        kept[out["x"].to_numpy()] += 1
    assert kept[10] == 600
    assert np.all(np.abs(kept[:10] / 600 - 0.3) < 0.075)  # binomial sd 0.019: a 4-sd band


def test_broken_keys_and_bad_inputs_are_refused(bank):
    tables, schema = bank
    orphan = dict(tables, accounts=tables["accounts"].assign(customer_id=tables["accounts"]["customer_id"] + 10_000))
    with pytest.raises(IntegrityError, match="customer_id"):
        RelationalSynthesizer(random_state=0).fit(orphan, schema)
    repeated = dict(tables, customers=tables["customers"].assign(customer_id=1))
    with pytest.raises(IntegrityError, match="unique"):
        RelationalSynthesizer(random_state=0).fit(repeated, schema)
    with pytest.raises(DomainError, match="transactions"):
        RelationalSynthesizer(random_state=0).fit({k: v for k, v in tables.items() if k != "transactions"}, schema)
    with pytest.raises(DomainError, match="counts only"):
        RelationalSynthesizer(random_state=0, table_synthesizers={"accounts": "privbayes"}).fit(tables, schema)
    with pytest.raises(ValueError, match="delta"):
        RelationalSynthesizer(delta=0.0).fit(tables, schema)
    wrong = dict(tables, transactions=tables["transactions"].assign(channel="pigeon"))
    with pytest.raises(DomainError, match="channel"):
        RelationalSynthesizer(random_state=0).fit(wrong, schema)


def test_nothing_is_charged_when_the_plan_does_not_fit(bank, monkeypatch):
    from privsynth.relational import synthesizer as module

    tables, schema = bank
    monkeypatch.setattr(module, "table_rhos", lambda shares, rho: {n: 2 * rho for n in shares})  # a broken split
    charged = []
    monkeypatch.setattr(ps.privacy.Ledger, "charge", lambda self, *a, **k: charged.append(a))
    with pytest.raises(BudgetExceededError, match="RelationalSynthesizer.fit"):
        RelationalSynthesizer(random_state=0).fit(tables, schema)
    assert charged == []


def test_a_per_person_bound_caps_every_persons_rows_and_the_accounting(bank):
    import dataclasses

    from privsynth.core.rng import PrivateRandomness
    from privsynth.relational import Schema

    tables, schema = bank
    capped = Schema(tuple(dataclasses.replace(t, max_per_person=6) if t.name == "transactions" else t for t in schema.tables),
                    person=schema.person)
    assert capped.rows_per_person("transactions") == 6 and capped.rows_per_person("accounts") == 4
    kept = RelationalSynthesizer._bounded(capped, tables, PrivateRandomness(0))
    owner = kept["transactions"].merge(kept["accounts"][["account_id", "customer_id"]], on="account_id")
    assert owner.groupby("customer_id").size().max() == 6
    assert kept["transactions"].groupby("account_id").size().max() <= 8
    model = RelationalSynthesizer(epsilon=1.0, random_state=0).fit(tables, capped)
    assert model.certificate_.parameters["tables"]["transactions"]["rows_per_person"] == 6
    assert verify_database(model.certificate_).ok


def test_secure_fits_draw_the_bounding_from_the_os(bank):
    from privsynth.data.relational import bound_contributions

    frame = pd.DataFrame({"pid": [1] * 50, "x": range(50)})
    picks = {tuple(bound_contributions(frame, parent_key="pid", kept_parents=pd.Series([1]), bound=5, rng=None)["x"])
             for _ in range(5)}
    assert len(picks) > 1 and all(len(p) == 5 for p in picks)  # fresh CSPRNG draws every time
    tables, schema = bank
    model = RelationalSynthesizer(epsilon=1.0, secure=True, synthesizer="independent").fit(tables, schema)
    assert verify_database(model.certificate_).ok and any("secure" in a or "CSPRNG" in a for a in model.certificate_.assumptions)


def test_a_certificate_forged_to_understate_the_bound_is_refused(fitted, tmp_path):
    """A forger rewrites the database certificate as if one customer held one transaction (every
    transactions event and the claim recomputed, so the arithmetic holds): the schema in the same
    file says 12, and loading refuses it."""
    import json

    from privsynth.core.io import read_bundle, write_bundle
    from privsynth.privacy.events import event_from_dict, event_to_dict

    docs, arrays = read_bundle(fitted.save(tmp_path / "bank.privsynth"))
    cert = docs["certificate"]
    info = cert["parameters"]["tables"]["transactions"]
    info["rows_per_person"] = 1
    rows = [event_from_dict(e["event"]) for e in info["row_level_entries"]]
    others = [e for e in cert["entries"] if not e["label"].startswith("transactions:")]
    cert["entries"] = others + [{"label": f"transactions: {e['label']}", "event": event_to_dict(r)}
                                for e, r in zip(info["row_level_entries"], rows)]
    cert["spent"]["epsilon"] = RdpAccountant().epsilon([event_from_dict(e["event"]) for e in cert["entries"]], 1e-6)
    assert verify_database(ps.Certificate.from_dict(json.loads(json.dumps(cert)))).ok  # consistent on its own ...
    write_bundle(tmp_path / "forged.privsynth", documents=docs, arrays=arrays)
    with pytest.raises(IntegrityError, match="rows per person"):  # ... but not with the schema it ships with
        ps.relational.load(tmp_path / "forged.privsynth")
