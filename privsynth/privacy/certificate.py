"""Certificates: a frozen, JSON round-tripping record of what a release spent and why.

A certificate is built from a ledger when a synthesizer finishes fitting. It lists every
mechanism call, so :func:`verify` can recompute the spend with a fresh accountant and check the
claim -- anyone holding the JSON can, without privsynth's model file or the data.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping

from privsynth.core.domain import Domain
from privsynth.core.errors import IntegrityError, TrustError
from privsynth.core.signing import KeyLike, check_signature, sign
from privsynth.privacy.accountants import NEIGHBOURING, NEIGHBOURING_PERSON, get_accountant
from privsynth.privacy.budget import MAX_DELTA, Budget
from privsynth.privacy.events import pure_epsilon
from privsynth.privacy.ledger import Ledger, LedgerEntry

__all__ = [
    "Certificate", "Verification", "verify", "check_policy", "signed_document", "check_document_signature",
    "library_versions", "CERTIFICATE_FORMAT",
]

CERTIFICATE_FORMAT = "privsynth-certificate/1"


def library_versions() -> dict[str, str]:
    """Versions of python and the libraries the guarantee depends on."""
    return dict(_installed_versions())


@lru_cache(maxsize=1)
def _installed_versions() -> tuple[tuple[str, str], ...]:
    """Read once per process: each package-metadata lookup costs milliseconds, and an audit
    certifies hundreds of fits."""
    out = [("python", platform.python_version())]
    for pkg in ("privsynth", "numpy", "pandas", "scipy", "dp-accounting", "opacus", "torch"):
        try:
            out.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(out)


@dataclass(frozen=True)
class Certificate:
    """What a model or release spent, how that was computed, and under which assumptions.

    ``valid`` is ``False`` when the guarantee does not hold as stated: the domain was inferred
    from the data, or something non-private was released (``leaks``).

    Example:
        >>> from privsynth.privacy.events import LaplaceEvent
        >>> ledger = Ledger(Budget(epsilon=1.0))
        >>> _ = ledger.charge(LaplaceEvent(noise_multiplier=2.0), label="count")
        >>> cert = Certificate.from_ledger(ledger)
        >>> cert.spent.epsilon, cert.valid
        (0.5, True)
        >>> Certificate.from_json(cert.to_json()) == cert
        True
        >>> verify(cert).ok
        True
    """

    limit: Budget
    spent: Budget
    accountant: Mapping[str, Any]
    entries: tuple
    neighbouring: str = NEIGHBOURING
    domain_fingerprint: str | None = None
    domain_provenance: str | None = None
    assumptions: tuple = ()
    leaks: tuple = ()
    synthesizer: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    valid: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))
        object.__setattr__(self, "assumptions", tuple(self.assumptions))
        object.__setattr__(self, "leaks", tuple(self.leaks))

    @classmethod
    def from_ledger(
        cls,
        ledger: Ledger,
        *,
        domain: Domain | None = None,
        synthesizer: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        assumptions: tuple[str, ...] = (),
        neighbouring: str = NEIGHBOURING,
    ) -> "Certificate":
        """Freeze the ledger's state into a certificate (``neighbouring``: the relation its
        events were accounted under, :data:`NEIGHBOURING_PERSON` for a database)."""
        inferred = domain is not None and domain.provenance == "inferred"
        return cls(
            limit=ledger.budget,
            spent=ledger.spent(),
            accountant=ledger.accountant.to_dict(),
            entries=ledger.entries,
            neighbouring=neighbouring,
            domain_fingerprint=domain.fingerprint() if domain is not None else None,
            domain_provenance=domain.provenance if domain is not None else None,
            assumptions=tuple(assumptions),
            leaks=ledger.leaks,
            synthesizer=synthesizer,
            parameters=dict(parameters or {}),
            versions=library_versions(),
            valid=not inferred and not ledger.leaks,
        )

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CERTIFICATE_FORMAT,
            "valid": self.valid,
            "limit": self.limit.to_dict(),
            "spent": self.spent.to_dict(),
            "accountant": dict(self.accountant),
            "neighbouring": self.neighbouring,
            "entries": [e.to_dict() for e in self.entries],
            "domain": {"fingerprint": self.domain_fingerprint, "provenance": self.domain_provenance},
            "assumptions": list(self.assumptions),
            "leaks": list(self.leaks),
            "synthesizer": self.synthesizer,
            "parameters": dict(self.parameters),
            "versions": dict(self.versions),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Certificate":
        """Parse a certificate; raises :class:`IntegrityError` for anything malformed."""
        try:
            if data.get("format") != CERTIFICATE_FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, expected {CERTIFICATE_FORMAT!r}")
            domain = data.get("domain") or {}
            return cls(
                limit=Budget.from_dict(data["limit"]),
                spent=Budget.from_dict(data["spent"]),
                accountant=dict(data["accountant"]),
                entries=tuple(LedgerEntry.from_dict(e) for e in data["entries"]),
                neighbouring=str(data.get("neighbouring", NEIGHBOURING)),
                domain_fingerprint=domain.get("fingerprint"),
                domain_provenance=domain.get("provenance"),
                assumptions=tuple(data.get("assumptions", ())),
                leaks=tuple(data.get("leaks", ())),
                synthesizer=data.get("synthesizer"),
                parameters=dict(data.get("parameters") or {}),
                versions=dict(data.get("versions") or {}),
                valid=bool(data["valid"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IntegrityError(f"Not a valid privsynth certificate: {exc}.") from None

    @classmethod
    def from_json(cls, text: str) -> "Certificate":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise IntegrityError(f"Certificate is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise IntegrityError("Certificate JSON must be an object.")
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: str | Path) -> "Certificate":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def to_file(self, path: str | Path, *, release: Mapping[str, Any] | None = None, sign_key: KeyLike | None = None) -> Path:
        """Write the certificate as JSON.

        Args:
            path: Where to write.
            release: What this certificate covers (e.g. ``{"file": ..., "sha256": ..., "rows": ...}``
                of a sampled data file), stored under ``"release"``.
            sign_key: An Ed25519 private key: adds a ``"signature"`` over the canonical JSON of
                everything else (:func:`check_document_signature` checks it).
        """
        path = Path(path)
        document = self.to_dict()
        if release is not None:
            document["release"] = dict(release)
        if sign_key is not None:
            document = signed_document(document, sign_key)
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        return path

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"{'VALID' if self.valid else 'INVALID'} certificate ({self.synthesizer or 'release'})",
            f"  spent  epsilon={self.spent.epsilon:.6g} delta={self.spent.delta:.3g}"
            f"  of limit epsilon={self.limit.epsilon:.6g} delta={self.limit.delta:.3g}",
            f"  accountant {self.accountant.get('name')}, neighbours {self.neighbouring}, {len(self.entries)} mechanism calls",
            f"  domain {self.domain_provenance} {self.domain_fingerprint}",
        ]
        lines += [f"  leak: {leak}" for leak in self.leaks]
        lines += [f"  assumes: {a}" for a in self.assumptions]
        return "\n".join(lines)


@dataclass(frozen=True)
class Verification:
    """Outcome of :func:`verify`: ``ok`` and, when not, the ``problems``; ``consistent``: the
    arithmetic holds (the recorded events compose to the claim, within the limit), whatever the
    ``valid`` flag says."""

    ok: bool
    recomputed_epsilon: float
    claimed_epsilon: float
    problems: tuple = ()
    recomputed_delta: float = math.nan
    consistent: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "recomputed_epsilon": self.recomputed_epsilon,
            "recomputed_delta": self.recomputed_delta,
            "claimed_epsilon": self.claimed_epsilon,
            "consistent": self.consistent,
            "problems": list(self.problems),
        }


def verify(certificate: Certificate, *, rtol: float = 1e-6) -> Verification:
    """Recompute the spend from the recorded events with a fresh accountant and check the claim.

    Checks: the recomputed epsilon matches the claimed one (relative ``rtol``) and fits the
    limit; the claimed delta is the recomputed one (0 when every event is pure DP, else the
    limit's delta, at which epsilon is computed) and fits the limit; the neighbouring relation
    is add/remove-one (a record, or for a database a person with their linked rows); the
    certificate is ``valid`` (an invalid one -- inferred domain, recorded leaks -- never verifies),
    and a ``valid`` flag is consistent with the leaks and the domain's provenance.
    """
    problems: list[str] = []
    try:
        acc = get_accountant(certificate.accountant)
        events = [e.event for e in certificate.entries]
        recomputed = acc.epsilon(events, certificate.limit.delta)
        recomputed_delta = 0.0 if all(pure_epsilon(e) is not None for e in events) else certificate.limit.delta
    except (TypeError, ValueError) as exc:
        return Verification(False, math.nan, certificate.spent.epsilon, (f"could not recompute: {exc}",))
    claimed = certificate.spent.epsilon
    if not math.isclose(recomputed, claimed, rel_tol=rtol, abs_tol=1e-12):
        problems.append(f"claimed epsilon {claimed:.9g} but the recorded events compose to {recomputed:.9g}")
    if recomputed > certificate.limit.epsilon:
        problems.append(f"recomputed epsilon {recomputed:.9g} exceeds the limit {certificate.limit.epsilon:.9g}")
    if certificate.spent.delta > certificate.limit.delta:
        problems.append("spent delta exceeds the limit")
    if not math.isclose(certificate.spent.delta, recomputed_delta, rel_tol=rtol, abs_tol=0.0):
        problems.append(f"claimed delta {certificate.spent.delta:.3g} but the recorded events hold at delta {recomputed_delta:.3g}")
    if certificate.neighbouring not in (NEIGHBOURING, NEIGHBOURING_PERSON):
        problems.append(f"unknown neighbouring relation {certificate.neighbouring!r}")
    consistent = not problems
    should_be_valid = not certificate.leaks and certificate.domain_provenance != "inferred"
    if certificate.valid and not should_be_valid:
        problems.append("marked valid although the domain was inferred or non-private releases were recorded")
    if not certificate.valid:
        inferred = ["the domain was inferred from the data"] if certificate.domain_provenance == "inferred" else []
        reasons = list(certificate.leaks) + inferred
        problems.append("the certificate is marked invalid (no DP guarantee): " + "; ".join(reasons or ["no reason recorded"]))
    return Verification(not problems, recomputed, claimed, tuple(problems), recomputed_delta, consistent)


def check_policy(certificate: Certificate, *, max_epsilon: float | None = None, max_delta: float | None = MAX_DELTA,
                 require_valid: bool = False, what: str = "The release") -> None:
    """Refuse (:class:`TrustError`) a certificate over ``max_epsilon`` or ``max_delta`` -- both
    recomputed from the events, never read from the claim -- or, with ``require_valid``, one that
    is not valid. ``max_delta`` defaults to :data:`~privsynth.privacy.budget.MAX_DELTA`
    (``None``: no limit); a delta near ``1/n`` lets a release expose a record outright.

    Example:
        >>> from privsynth.privacy.events import GaussianEvent
        >>> ledger = Ledger(Budget(epsilon=1.0, delta=0.49))
        >>> _ = ledger.charge(GaussianEvent(noise_multiplier=5.0), label="x")
        >>> check_policy(Certificate.from_ledger(ledger), max_epsilon=1.0)
        Traceback (most recent call last):
        ...
        privsynth.core.errors.TrustError: The release's guarantee holds at delta=0.49, over max_delta=0.0001 ...
    """
    if max_epsilon is None and max_delta is None and not require_valid:
        return
    check = verify(certificate)
    if require_valid and not certificate.valid:
        raise TrustError(f"{what} has an invalid certificate (no DP guarantee: {'; '.join(certificate.leaks) or 'inferred domain'}).")
    if (max_epsilon is not None and not check.ok) or (max_delta is not None and not check.consistent):
        raise TrustError(f"{what}'s certificate does not verify ({'; '.join(check.problems)}), so its epsilon and delta are unknown.")
    if max_epsilon is not None and check.recomputed_epsilon > max_epsilon:
        raise TrustError(f"{what} spends epsilon={check.recomputed_epsilon:.6g}, over max_epsilon={max_epsilon:g}.")
    if max_delta is not None and check.recomputed_delta > max_delta:
        raise TrustError(f"{what}'s guarantee holds at delta={check.recomputed_delta:.3g}, over max_delta={max_delta:g} (a delta "
                         "near 1/n lets a release expose a record outright); raise max_delta (--max-delta) only if you know why.")


def _canonical(document: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def signed_document(document: Mapping[str, Any], sign_key: KeyLike) -> dict[str, Any]:
    """``document`` (e.g. a certificate's ``to_dict()`` with a ``release`` block) with a
    ``signature`` over its canonical JSON (sorted keys, no whitespace, the signature excluded)."""
    return {**{k: v for k, v in document.items() if k != "signature"}, "signature": sign(_canonical(document), sign_key)}


def check_document_signature(document: Mapping[str, Any], trusted_keys: Iterable[KeyLike] | None, *,
                             what: str = "The certificate") -> str | None:
    """Check the ``signature`` of a signed JSON document; see
    :func:`privsynth.core.signing.check_signature` for what is refused."""
    signature = document.get("signature")
    if signature is not None and not isinstance(signature, Mapping):
        raise IntegrityError(f"{what} has a malformed signature.")
    return check_signature(_canonical(document), signature, trusted_keys, what=what)
