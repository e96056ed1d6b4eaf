"""Checks every synthesizer must pass: the shared contract (after scikit-learn's
``check_estimator``) and the attacker's view of what a fit releases. Use them in your tests::

    from privsynth.testing import check_synthesizer, replay_attack
    check_synthesizer(MySynth(epsilon=1.0, random_state=0))
    result = replay_attack(lambda seed: MySynth(epsilon=0.05, random_state=seed), data, domain, target)
    assert result.reproduced == 0 and result.interval[0] < 0.5 < result.interval[1]
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from privsynth.core.dataset import encode, levels, validate
from privsynth.core.domain import Domain
from privsynth.core.errors import NotFittedError
from privsynth.core.io import read_bundle
from privsynth.privacy.certificate import Certificate, verify
from privsynth.synthesizers.base import Synthesizer
from privsynth.synthesizers.model_file import load

__all__ = ["check_synthesizer", "replay_attack", "ReplayResult", "artifact_structure", "forge_lower_epsilon", "BLOCK_TORCH"]

#: Python source that makes every ``import torch`` / ``import opacus`` raise ``ImportError`` in the
#: process that runs it, as on a machine with ``pip install privsynth`` alone: put it first in a
#: ``python -c`` program to check that a path needs numpy only (torch never enters ``sys.modules``).
BLOCK_TORCH = """
import importlib.abc as _abc, sys as _sys

class _BlockTorch(_abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "opacus"):
            raise ImportError(f"No module named {name!r} (torch is blocked here)")
        return None

_sys.meta_path.insert(0, _BlockTorch())
"""


class ContractError(AssertionError):
    """A synthesizer broke the contract."""


def _saves_count(documents: dict, n: int) -> bool:
    """Whether a model file's state holds the number ``n``."""
    return float(n) in {x for name, doc in documents.items() if name == "model" for x in _numbers(doc.get("state", {}))}


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


def _keys(obj: object) -> set[str]:
    if isinstance(obj, dict):
        return {str(k) for k in obj} | {k for v in obj.values() for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


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
    ``n_hat_`` is a DP record count; the same secret seed gives the same model (unless
    ``secure=True``, whose noise is never reproducible); the same public sampling seed gives the
    same rows and unseeded sampling gives new rows every call; ``save``/``load`` round-trips to
    identical samples and certificate; neither the model file nor the certificate holds the seed
    (no ``random_state``/``seed`` key anywhere), the record count or exact one-way counts.

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
    _require(synthesizer.sample(n_samples, random_state=1).equals(out), "the same public sampling seed must give the same rows")
    _require(not synthesizer.sample(n_samples).equals(synthesizer.sample(n_samples)), "unseeded sample() must draw new rows every call")
    n_hat = getattr(synthesizer, "n_hat_", None)
    _require(bool(isinstance(n_hat, (int, np.integer)) and n_hat >= 0), "a fitted synthesizer must have a DP record count n_hat_ >= 0")

    cert = synthesizer.certificate_
    delta = synthesizer.delta if synthesizer.delta is not None else getattr(synthesizer, "delta_", None)  # automatic delta
    _require(cert.limit.epsilon == synthesizer.epsilon and cert.limit.delta == delta,
             "the certificate's limit must be the synthesizer's (epsilon, delta)")
    _require(cert.limit.covers(cert.spent), f"spent {cert.spent} exceeds the limit {cert.limit}")
    _require(len(cert.entries) > 0, "a fitted synthesizer must have charged its ledger")
    check = verify(cert)
    _require(check.ok, f"certificate does not verify: {check.problems}")
    secure = getattr(synthesizer, "secure", False)
    _require(secure or any("reproducible run" in a and "secret" in a for a in cert.assumptions),
             "a seeded fit's certificate must say that the guarantee rests on the seed staying secret")

    if not secure:  # secure noise comes from the CSPRNG: never reproducible
        twin = _clone(synthesizer).fit(data, domain)
        _require(twin.sample(n_samples, random_state=1).equals(out), "the same secret seed must give the same model")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.privsynth"
        synthesizer.save(path)
        loaded = load(path)
        _require(type(loaded) is type(synthesizer), "load must return the same class")
        _require(loaded.sample(n_samples, random_state=1).equals(out), "save/load must round-trip to identical samples")
        _require(loaded.certificate_ == cert, "save/load must keep the certificate")
        documents, arrays = read_bundle(path)

    secret_keys = {"random_state", "seed", "sample_seed"} & (_keys(documents) | _keys(cert.to_dict()))
    _require(not secret_keys, f"the model file or certificate holds the secret seed ({sorted(secret_keys)})")
    # A DP count equals the exact one by chance now and then; a stored exact count follows the data. So a hit is
    # checked again on the neighbour without the last record, whose fit must not hold its own exact count too.
    exact_count_saved = _saves_count(documents, len(validate(data, domain)))
    if exact_count_saved and len(data):
        neighbour = data.iloc[:-1]
        with tempfile.TemporaryDirectory() as tmp:
            path = _clone(synthesizer).fit(neighbour, domain).save(Path(tmp) / "neighbour.privsynth")
            exact_count_saved = _saves_count(read_bundle(path)[0], len(neighbour))
    _require(not exact_count_saved, "the saved state holds the exact record count")
    bins = int(getattr(synthesizer, "bins", 16))
    for exact in _exact_statistics(data, domain, bins):
        for name, arr in arrays.items():
            a = np.asarray(arr, dtype=float).ravel()
            if a.shape == exact.shape:
                _require(not np.allclose(a, exact, rtol=0, atol=1e-12), f"saved array {name!r} holds exact one-way statistics")
    json.dumps(cert.to_dict())  # the certificate must be plain JSON


# -- the attacker's view ------------------------------------------------------------------------
_SEEDLIKE = re.compile(r"seed|random_state", re.IGNORECASE)


def _seedlike_values(obj: Any, under: bool = False) -> set[int]:
    """Every integer stored under a key that looks like a seed (what a replay attacker tries)."""
    if isinstance(obj, dict):
        return {v for k, val in obj.items() for v in _seedlike_values(val, under or bool(_SEEDLIKE.search(str(k))))}
    if isinstance(obj, list):
        return {v for val in obj for v in _seedlike_values(val, under)}
    if under and isinstance(obj, int) and not isinstance(obj, bool) and obj >= 0:
        return {obj}
    return set()


def _model_bytes(synth: Synthesizer, folder: Path, name: str) -> tuple[dict, dict]:
    path = folder / f"{name}.privsynth"
    synth.save(path)
    return read_bundle(path)


def _distance(a: dict, b: dict) -> float:
    if set(a) != set(b) or any(np.shape(a[k]) != np.shape(b[k]) for k in a):
        return float("inf")
    return float(sum(np.abs(np.asarray(a[k], dtype=float) - np.asarray(b[k], dtype=float)).sum() for k in a))


@dataclass(frozen=True)
class ReplayResult:
    """Outcome of :func:`replay_attack`: how often the attacker named the right dataset, how often
    a refit reproduced the released model exactly, and the Clopper-Pearson interval of the accuracy."""

    trials: int
    correct: int
    reproduced: int
    interval: tuple
    confidence: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.trials


def replay_attack(make: Callable[[int | None], Synthesizer], data: pd.DataFrame, domain: Domain, target: pd.DataFrame, *,
                  trials: int = 20, n_release: int = 100, confidence: float = 0.95, random_state: int = 0) -> ReplayResult:
    """Play the replay attacker against ``make`` (``seed -> unfitted synthesizer``).

    Each trial a fair coin picks ``data`` or ``data`` plus the one record ``target``; the victim
    fits with a secret seed of 63 random bits (a user who keeps it secret) and releases the model
    file, its certificate and ``n_release`` sampled rows. The attacker holds all of that and every
    record of ``data``: it refits on both neighbours with the published parameters and every
    seed-like value it finds in the artifacts (and a seed of its own), and names the dataset whose
    refit reproduces the released model exactly -- or, failing that, comes closest. If any
    randomness of the fit can be replayed, the attacker is right every time; against an
    ``epsilon``-DP release its accuracy is at most ``e^epsilon / (1 + e^epsilon)``.

    ``random_state`` seeds the coin, the victim's secret seeds and the attacker's own, so that a
    test is repeatable (the victim's seeds are still unknown to the attacker).
    """
    from privsynth.evaluation.audit import clopper_pearson

    coin = np.random.default_rng(random_state)
    neighbour = pd.concat([data, target], ignore_index=True)
    correct = reproduced = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for _ in range(trials):
            truth = int(coin.integers(2))
            victim_seed, own_seed = (int(x) for x in coin.integers(0, 2**63, size=2))
            victim = make(victim_seed).fit(neighbour if truth else data, domain)
            documents, arrays = _model_bytes(victim, folder, "release")
            victim.sample(n_release)  # released too; nothing in it is replayable without the model's randomness
            candidates = [own_seed, *sorted(_seedlike_values(documents) | _seedlike_values(victim.certificate_.to_dict()))]
            closest = [float("inf"), float("inf")]
            for seed in candidates:
                for guess, table in ((0, data), (1, neighbour)):
                    _, refit = _model_bytes(make(seed).fit(table, domain), folder, "refit")
                    closest[guess] = min(closest[guess], _distance(arrays, refit))
            reproduced += min(closest) == 0.0
            guess = int(coin.integers(2)) if closest[0] == closest[1] else int(closest[1] < closest[0])
            correct += guess == truth
    return ReplayResult(trials=trials, correct=correct, reproduced=reproduced, interval=clopper_pearson(correct, trials, confidence),
                        confidence=confidence)


def _shape(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _shape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_shape(v) for v in obj]
    return type(obj).__name__


def artifact_structure(synth: Synthesizer) -> dict:
    """The data-independent shape of what a fitted synthesizer releases: the model file's
    members, every JSON key and value type, every array's name, shape and dtype, and the whole
    certificate but the library versions. Fits on neighbouring datasets with the same (secret)
    randomness at a tiny epsilon must give equal structures: any difference is a data-dependent
    branch on an un-noised value."""
    with tempfile.TemporaryDirectory() as tmp:
        documents, arrays = _model_bytes(synth, Path(tmp), "model")
    certificate = {k: v for k, v in synth.certificate_.to_dict().items() if k != "versions"}
    return {
        "documents": _shape({k: v for k, v in documents.items() if k != "certificate"}),
        "arrays": {k: (np.shape(v), str(np.asarray(v).dtype)) for k, v in arrays.items()},
        "certificate": certificate,
    }


def forge_lower_epsilon(path: str | Path, out: str | Path) -> Path:
    """The forger of issue #9, to test that trust holds: rewrite a model file so that its
    certificate claims a smaller epsilon -- every recorded noise multiplier doubled and every
    selection's epsilon halved, the claim recomputed so that ``verify`` agrees, the manifest's
    hashes recomputed and any signature dropped. Only a signature by a trusted key tells it
    from a genuine file."""
    import hashlib
    import zipfile

    from privsynth.core.io import _canonical_zip

    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    cert = json.loads(members["certificate.json"])
    for entry in cert["entries"]:
        event = entry["event"]
        if "noise_multiplier" in event:
            event["noise_multiplier"] *= 2
        if "epsilon" in event:
            event["epsilon"] /= 2
    claimed = verify(Certificate.from_dict(cert)).recomputed_epsilon  # the forger redoes the arithmetic too
    cert["spent"]["epsilon"] = cert["limit"]["epsilon"] = claimed
    members["certificate.json"] = json.dumps(cert).encode()
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["certificate.json"] = hashlib.sha256(members["certificate.json"]).hexdigest()
    members["manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    members.pop("signature.json", None)
    out = Path(out)
    out.write_bytes(_canonical_zip(members))
    return out
