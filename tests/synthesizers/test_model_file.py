"""Model files refuse tampering, unknown classes and pickles at the synthesizer level too."""

import json
import zipfile

import pytest

import privsynth as ps
from privsynth.core.io import _canonical_zip
from privsynth.synthesizers import IndependentMarginals


@pytest.fixture
def model(census, tmp_path):
    data, domain = census
    path = tmp_path / "m.privsynth"
    IndependentMarginals(epsilon=1.0, random_state=0).fit(data, domain).save(path)
    return path


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_round_trip_keeps_params(model):
    loaded = ps.load(model)
    assert isinstance(loaded, IndependentMarginals) and loaded.random_state == 0


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
    loaded = ps.load(forged)
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
