"""Model files refuse tampering, unknown classes and pickles at the synthesizer level too."""

import json
import zipfile

import pytest

import privsynth as ps
from privsynth.core.io import _canonical_zip
from privsynth.synthesizers import IndependentMarginals
from privsynth.testing import forge_lower_epsilon


@pytest.fixture
def model(census, tmp_path):
    data, domain = census
    path = tmp_path / "m.privsynth"
    IndependentMarginals(epsilon=1.0, random_state=0).fit(data, domain).save(path)
    return path


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_round_trip_keeps_public_params_and_never_the_seed(model):
    loaded = ps.load(model)
    assert isinstance(loaded, IndependentMarginals) and loaded.epsilon == 1.0 and loaded.random_state is None
    docs = {n: json.loads(b) for n, b in _members(model).items() if n.endswith(".json")}
    assert "random_state" not in docs["model.json"]["params"] and "seed" not in docs["certificate.json"]
    assert not {"sample_seed", "n_sample_calls"} & set(docs["model.json"])


def test_byte_flip_is_refused(model, tmp_path):
    raw = bytearray(model.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad = tmp_path / "bad.privsynth"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ps.IntegrityError):
        ps.load(bad)


def test_consistent_forgery_of_the_certificate_is_caught_by_verify(model, tmp_path):
    """An attacker who rewrites the certificate *and* the manifest gets past the hashes, but the
    claimed epsilon no longer matches the recorded events."""
    import hashlib

    members = _members(model)
    cert = json.loads(members["certificate.json"])
    cert["spent"]["epsilon"] = 0.01
    members["certificate.json"] = json.dumps(cert).encode()
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["certificate.json"] = hashlib.sha256(members["certificate.json"]).hexdigest()
    members["manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    forged = tmp_path / "forged.privsynth"
    forged.write_bytes(_canonical_zip(members))
    with pytest.raises(ps.TrustError, match="does not verify"):  # load checks the arithmetic by default (max_delta)
        ps.load(forged)
    loaded = ps.load(forged, max_delta=None)
    assert not ps.verify(loaded.certificate_).ok


def test_unknown_class_and_domain_mismatch(model, tmp_path):
    import hashlib

    for member, edit, pattern in [
        ("model.json", lambda d: {**d, "class": "Evil"}, "unknown synthesizer"),
        ("domain.json", lambda d: {**d, "columns": d["columns"][:-1]}, "fingerprint"),
    ]:
        members = _members(model)
        members[member] = json.dumps(edit(json.loads(members[member]))).encode()
        manifest = json.loads(members["manifest.json"])
        manifest["files"][member] = hashlib.sha256(members[member]).hexdigest()
        members["manifest.json"] = json.dumps(manifest).encode()
        path = tmp_path / f"{member}.privsynth"
        path.write_bytes(_canonical_zip(members))
        with pytest.raises(ps.IntegrityError, match=pattern):
            ps.load(path)


@pytest.fixture
def keys(tmp_path):
    from privsynth.core.signing import generate_keypair

    mine, theirs = generate_keypair(tmp_path / "mine"), generate_keypair(tmp_path / "theirs")
    return {"key": mine[0], "pub": mine[1], "other_key": theirs[0], "other_pub": theirs[1]}


def test_a_consistent_forgery_passes_verify_but_not_trust(census, tmp_path, keys):
    data, domain = census
    genuine = IndependentMarginals(epsilon=1.0).fit(data, domain).save(tmp_path / "genuine.privsynth", sign_key=keys["key"])
    loaded = ps.load(genuine, trusted_keys=[keys["pub"]], max_epsilon=1.0)
    assert loaded.signed_by_.startswith("ed25519:") and ps.verify(loaded.certificate_).ok
    forged = forge_lower_epsilon(genuine, tmp_path / "forged.privsynth")
    lie = ps.load(forged)  # without trust, the forgery loads and even verifies: hashes and arithmetic agree
    assert ps.verify(lie.certificate_).ok and lie.certificate_.spent.epsilon == pytest.approx(0.5)
    with pytest.raises(ps.TrustError, match="not signed"):
        ps.load(forged, trusted_keys=[keys["pub"]])
    resigned = IndependentMarginals(epsilon=1.0).fit(data, domain).save(tmp_path / "theirs.privsynth", sign_key=keys["other_key"])
    with pytest.raises(ps.TrustError, match="not among the trusted keys"):
        ps.load(resigned, trusted_keys=[keys["pub"]])
    with pytest.raises(ps.TrustError, match="over max_epsilon"):
        ps.load(genuine, trusted_keys=[keys["pub"]], max_epsilon=0.5)


def test_a_signed_file_edited_after_signing_is_refused_even_without_trust(census, tmp_path, keys):
    data, domain = census
    genuine = IndependentMarginals(epsilon=1.0).fit(data, domain).save(tmp_path / "g.privsynth", sign_key=keys["key"])
    members = _members(genuine)
    signature = members["signature.json"]
    forge_lower_epsilon(genuine, tmp_path / "f.privsynth")
    edited = _members(tmp_path / "f.privsynth")
    edited["signature.json"] = signature  # the old signature kept on new contents
    (tmp_path / "f.privsynth").write_bytes(_canonical_zip(edited))
    with pytest.raises(ps.IntegrityError, match="changed after signing"):
        ps.load(tmp_path / "f.privsynth")


def test_unsigned_files_load_when_no_trust_is_asked(model):
    assert ps.load(model).signed_by_ is None
    with pytest.raises(ps.TrustError, match="not signed"):
        ps.load(model, trusted_keys=[])


def test_require_valid(census, tmp_path):
    data, domain = census
    with pytest.warns(ps.PrivacyLeakWarning):
        inferred = ps.Domain.infer(data)
    path = IndependentMarginals(epsilon=1.0).fit(data, inferred).save(tmp_path / "m.privsynth")
    assert not ps.load(path).certificate_.valid
    with pytest.raises(ps.TrustError, match="invalid certificate"):
        ps.load(path, require_valid=True)


def test_a_signed_model_at_a_large_delta_is_refused_by_default(tmp_path, census):
    """Issue #21, item 5: on 785087b a signed model at (0.5, delta 0.49) loaded under
    max_epsilon=1, require_valid=True."""
    from privsynth import TrustError
    from privsynth.core.signing import generate_keypair
    from privsynth.synthesizers import IndependentMarginals

    data, domain = census
    key, pub, _ = generate_keypair(tmp_path / "k")
    with pytest.raises(ValueError, match="above 0.0001"):
        IndependentMarginals(epsilon=0.5, delta=0.49, noise="gaussian").fit(data, domain)  # refused before any charge
    model = IndependentMarginals(epsilon=0.5, delta=0.49, noise="gaussian").fit(data, domain, allow_large_delta=True)
    assert any("allow_large_delta" in a for a in model.certificate_.assumptions)
    path = model.save(tmp_path / "m.privsynth", sign_key=key)
    with pytest.raises(TrustError, match="over max_delta"):
        ps.load(path, trusted_keys=[pub], max_epsilon=1.0, require_valid=True)
    assert ps.load(path, trusted_keys=[pub], max_epsilon=1.0, max_delta=0.5).certificate_.spent.delta == 0.49


def test_a_shared_ledger_with_a_large_delta_is_refused_before_any_charge(census):
    from privsynth.synthesizers import PrivBayes

    data, domain = census
    ledger = ps.Ledger(ps.Budget(epsilon=5.0, delta=1e-3))
    with pytest.raises(ValueError, match="shared ledger's delta=0.001"):
        PrivBayes(epsilon=1.0).fit(data, domain, ledger=ledger)
    assert ledger.entries == ()
