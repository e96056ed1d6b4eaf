"""``check_synthesizer``: the shared contract every synthesizer must pass (after scikit-learn's
``check_estimator``). Use it in your tests::

    from privsynth.testing import check_synthesizer
    check_synthesizer(MySynth(epsilon=1.0, random_state=0))
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from privsynth.core.dataset import encode, levels, validate
from privsynth.core.domain import Domain
from privsynth.core.errors import NotFittedError
from privsynth.core.io import read_bundle
from privsynth.privacy.certificate import verify
from privsynth.synthesizers.base import Synthesizer, load

__all__ = ["check_synthesizer"]


class ContractError(AssertionError):
    """A synthesizer broke the contract."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def _clone(synth: Synthesizer) -> Synthesizer:
    return type(synth)(**synth.get_params())


def _numbers(obj: object) -> list[float]:
    if isinstance(obj, bool):
        return []
    if isinstance(obj, (int, float)):
        return [float(obj)]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numbers(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _numbers(v)]
    return []


def _exact_statistics(data: pd.DataFrame, domain: Domain, bins: int) -> list[np.ndarray]:
    codes = encode(validate(data, domain), domain, bins=bins)
    out = []
    for j, k in enumerate(levels(domain, bins=bins)):
        counts = np.bincount(codes[:, j], minlength=k).astype(float)
        out += [counts, counts / counts.sum()]
    return out


def check_synthesizer(
    synthesizer: Synthesizer,
    data: pd.DataFrame | None = None,
    domain: Domain | None = None,
    *,
    n_samples: int = 200,
) -> None:
    """Run the synthesizer contract; raises ``AssertionError`` naming the first broken rule.

    Checks: sampling before ``fit`` raises ``NotFittedError``; ``fit`` returns ``self``;
    samples conform to the domain (columns, dtypes, categories, bounds); the certificate's
    spend fits its limit, which is the synthesizer's ``(epsilon, delta)``, and it verifies;
    the same seed gives the same samples (unless ``secure=True``, whose noise is never reproducible); ``save``/``load`` round-trips to identical samples
    and certificate; the saved file holds neither the record count nor exact one-way counts.

    Args:
        synthesizer: An unfitted instance with an integer ``random_state``.
        data, domain: Training data (default: 1,234 records of the built-in census data).
        n_samples: Records to sample in each check.
    """
    if data is None or domain is None:
        from privsynth.datasets import make_census

        data, domain = make_census(1234, random_state=0)
    _require(isinstance(synthesizer.random_state, int), "check_synthesizer needs an int random_state.")
    params = synthesizer.get_params()
    _require(_clone(synthesizer).get_params() == params, "__init__ must store its parameters unchanged")

    fresh = _clone(synthesizer)
    try:
        fresh.sample(1)
    except NotFittedError:
        pass
    else:
        raise ContractError("sample() before fit() must raise NotFittedError")

    fitted = synthesizer.fit(data, domain)
    _require(fitted is synthesizer, "fit must return self")
    _require(synthesizer.get_params() == params, "fit must not change the constructor parameters")

    out = synthesizer.sample(n_samples, random_state=1)
    _require(isinstance(out, pd.DataFrame) and len(out) == n_samples, "sample(n) must return a DataFrame of n rows")
    _require(list(out.columns) == list(domain.names), "samples must have the domain's columns, in order")
    validate(out, domain)  # raises DomainError if anything is out of the domain
    empty = synthesizer.sample(0, random_state=1)
    _require(list(empty.columns) == list(domain.names) and len(empty) == 0, "sample(0) must return an empty frame with the columns")

    cert = synthesizer.certificate_
    delta = synthesizer.delta if synthesizer.delta is not None else getattr(synthesizer, "delta_", None)  # automatic delta
    _require(cert.limit.epsilon == synthesizer.epsilon and cert.limit.delta == delta,
             "the certificate's limit must be the synthesizer's (epsilon, delta)")
    _require(cert.limit.covers(cert.spent), f"spent {cert.spent} exceeds the limit {cert.limit}")
    _require(len(cert.entries) > 0, "a fitted synthesizer must have charged its ledger")
    check = verify(cert)
    _require(check.ok, f"certificate does not verify: {check.problems}")

    if not getattr(synthesizer, "secure", False):  # secure noise comes from the CSPRNG: never reproducible
        twin = _clone(synthesizer).fit(data, domain)
        _require(twin.sample(n_samples, random_state=1).equals(out), "same random_state must give the same samples")
        _require(twin.sample(n_samples).equals(_clone(synthesizer).fit(data, domain).sample(n_samples)),
                 "same random_state must give the same default sample stream")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.privsynth"
        synthesizer.save(path)
        loaded = load(path)
        _require(type(loaded) is type(synthesizer), "load must return the same class")
        _require(loaded.sample(n_samples, random_state=1).equals(out), "save/load must round-trip to identical samples")
        _require(loaded.sample(n_samples).equals(synthesizer.sample(n_samples)), "save/load must continue the sample stream")
        _require(loaded.certificate_ == cert, "save/load must keep the certificate")
        documents, arrays = read_bundle(path)

    n = float(len(validate(data, domain)))
    saved_numbers = {x for name, doc in documents.items() if name == "model" for x in _numbers(doc.get("state", {}))}
    _require(n not in saved_numbers, "the saved state holds the exact record count")
    bins = int(getattr(synthesizer, "bins", 16))
    for exact in _exact_statistics(data, domain, bins):
        for name, arr in arrays.items():
            a = np.asarray(arr, dtype=float).ravel()
            if a.shape == exact.shape:
                _require(not np.allclose(a, exact, rtol=0, atol=1e-12), f"saved array {name!r} holds exact one-way statistics")
    json.dumps(cert.to_dict())  # the certificate must be plain JSON
