import dataclasses
import json

import pytest

from privsynth import IntegrityError, PrivacyLeakWarning
from privsynth.core.domain import Categorical, Domain
from privsynth.privacy import Budget, Certificate, GaussianEvent, LaplaceEvent, Ledger, LedgerEntry, verify


@pytest.fixture
def ledger():
    ledger = Ledger(Budget(epsilon=2.0, delta=1e-6))
    ledger.charge(LaplaceEvent(noise_multiplier=4.0), label="count")
    ledger.charge(GaussianEvent(noise_multiplier=6.0, discrete=True), label="histogram")
    return ledger


DOMAIN = Domain((Categorical("c", ("a", "b")),))


def test_json_round_trip_and_verify(ledger):
    cert = Certificate.from_ledger(ledger, domain=DOMAIN, synthesizer="X", parameters={"epsilon": 2.0},
                                   assumptions=("rng: numpy",))
    again = Certificate.from_json(cert.to_json())
    assert again == cert
    assert cert.valid and cert.domain_fingerprint == DOMAIN.fingerprint()
    assert "numpy" in cert.versions and "seed" not in cert.to_dict()
    check = verify(again)
    assert check.ok and check.recomputed_epsilon == cert.spent.epsilon


def test_tampered_claims_fail_verification(ledger):
    cert = Certificate.from_ledger(ledger, domain=DOMAIN)
    lower = dataclasses.replace(cert, spent=Budget(epsilon=cert.spent.epsilon / 2, delta=cert.spent.delta))
    assert not verify(lower).ok and "compose to" in verify(lower).problems[0]
    dropped = dataclasses.replace(cert, entries=cert.entries[:1])
    assert not verify(dropped).ok
    bigger = dataclasses.replace(cert, entries=cert.entries + (LedgerEntry("extra", LaplaceEvent(noise_multiplier=0.5)),))
    result = verify(bigger)
    assert not result.ok and any("exceeds the limit" in p for p in result.problems)


def test_inferred_domain_or_leak_makes_it_invalid(ledger):
    inferred = Domain(DOMAIN.columns, provenance="inferred")
    cert = Certificate.from_ledger(ledger, domain=inferred)
    assert not cert.valid
    assert not verify(cert).ok and "inferred" in verify(cert).problems[-1]
    with pytest.warns(PrivacyLeakWarning):
        ledger.record_leak("debug", "printed exact count")
    leaky = Certificate.from_ledger(ledger, domain=DOMAIN)
    assert not leaky.valid and leaky.leaks
    forged = dataclasses.replace(leaky, valid=True)
    assert any("marked valid although" in p for p in verify(forged).problems)


def test_garbage_is_an_integrity_error(ledger):
    with pytest.raises(IntegrityError, match="JSON"):
        Certificate.from_json("{nope")
    data = Certificate.from_ledger(ledger).to_dict()
    data["format"] = "other/9"
    with pytest.raises(IntegrityError, match="format"):
        Certificate.from_dict(data)
    data = Certificate.from_ledger(ledger).to_dict()
    data["entries"][0]["event"]["kind"] = "banana"
    with pytest.raises(IntegrityError):
        Certificate.from_json(json.dumps(data))


def test_summary_mentions_the_essentials(ledger):
    text = Certificate.from_ledger(ledger, domain=DOMAIN, synthesizer="X").summary()
    assert "VALID" in text and "epsilon=" in text and "2 mechanism calls" in text


# -- issue #21, item 5: trust on delta -----------------------------------------------------------
def _large_delta_certificate(delta=0.49):
    ledger = Ledger(Budget(epsilon=1.0, delta=delta))
    ledger.charge(GaussianEvent(noise_multiplier=5.0, discrete=True), label="histogram")
    return Certificate.from_ledger(ledger, domain=DOMAIN)


def test_the_policy_refuses_a_delta_that_protects_nobody():
    from privsynth import TrustError
    from privsynth.privacy.certificate import check_policy

    cert = _large_delta_certificate()
    assert verify(cert).ok and cert.spent.epsilon < 1  # consistent, valid, small epsilon ...
    with pytest.raises(TrustError, match="delta=0.49, over max_delta=0.0001"):
        check_policy(cert, max_epsilon=1.0, require_valid=True)  # ... but at delta 0.49: refused by default
    check_policy(cert, max_epsilon=1.0, max_delta=0.5)  # unless the reader raises max_delta
    check_policy(_large_delta_certificate(1e-6), max_epsilon=1.0)


def test_verify_recomputes_delta_and_refuses_a_claim_of_pure_dp():
    cert = _large_delta_certificate(1e-6)
    assert verify(cert).recomputed_delta == 1e-6
    pure_claim = dataclasses.replace(cert, spent=Budget(epsilon=cert.spent.epsilon, delta=0.0))
    result = verify(pure_claim)
    assert not result.ok and not result.consistent and any("claimed delta 0" in p for p in result.problems)
    laplace = Ledger(Budget(epsilon=1.0, delta=1e-6))
    laplace.charge(LaplaceEvent(noise_multiplier=2.0), label="count")
    assert verify(Certificate.from_ledger(laplace)).recomputed_delta == 0.0
