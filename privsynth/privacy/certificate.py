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
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

from privsynth.core.domain import Domain
from privsynth.core.errors import IntegrityError
from privsynth.privacy.accountants import NEIGHBOURING, get_accountant
from privsynth.privacy.budget import Budget
from privsynth.privacy.ledger import Ledger, LedgerEntry

__all__ = ["Certificate", "Verification", "verify", "library_versions", "CERTIFICATE_FORMAT"]

CERTIFICATE_FORMAT = "privsynth-certificate/1"


def library_versions() -> dict[str, str]:
    """Versions of python and the libraries the guarantee depends on."""
    out = {"python": platform.python_version()}
    for pkg in ("privsynth", "numpy", "pandas", "scipy", "dp-accounting", "opacus", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


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
    seed: int | None = None
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
        seed: int | None = None,
        assumptions: tuple[str, ...] = (),
    ) -> "Certificate":
        """Freeze the ledger's state into a certificate."""
        inferred = domain is not None and not domain.is_declared
        return cls(
            limit=ledger.budget,
            spent=ledger.spent(),
            accountant=ledger.accountant.to_dict(),
            entries=ledger.entries,
            domain_fingerprint=domain.fingerprint() if domain is not None else None,
            domain_provenance=domain.provenance if domain is not None else None,
            assumptions=tuple(assumptions),
            leaks=ledger.leaks,
            synthesizer=synthesizer,
            parameters=dict(parameters or {}),
            seed=seed,
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
            "seed": self.seed,
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
                seed=data.get("seed"),
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

    def to_file(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json(), encoding="utf-8")
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
    """Outcome of :func:`verify`: ``ok`` and, when not, the ``problems``."""

    ok: bool
    recomputed_epsilon: float
    claimed_epsilon: float
    problems: tuple = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "recomputed_epsilon": self.recomputed_epsilon,
            "claimed_epsilon": self.claimed_epsilon,
            "problems": list(self.problems),
        }


def verify(certificate: Certificate, *, rtol: float = 1e-6) -> Verification:
    """Recompute the spend from the recorded events with a fresh accountant and check the claim.

    Checks: the recomputed epsilon matches the claimed one (relative ``rtol``) and fits the
    limit; the claimed delta fits the limit; the neighbouring relation is add/remove-one; the
    certificate is ``valid`` (an invalid one -- inferred domain, recorded leaks -- never
    verifies), and a ``valid`` flag is consistent with the leaks and the domain's provenance.
    """
    problems: list[str] = []
    try:
        acc = get_accountant(certificate.accountant)
        recomputed = acc.epsilon([e.event for e in certificate.entries], certificate.limit.delta)
    except (TypeError, ValueError) as exc:
        return Verification(False, math.nan, certificate.spent.epsilon, (f"could not recompute: {exc}",))
    claimed = certificate.spent.epsilon
    if not math.isclose(recomputed, claimed, rel_tol=rtol, abs_tol=1e-12):
        problems.append(f"claimed epsilon {claimed:.9g} but the recorded events compose to {recomputed:.9g}")
    if recomputed > certificate.limit.epsilon:
        problems.append(f"recomputed epsilon {recomputed:.9g} exceeds the limit {certificate.limit.epsilon:.9g}")
    if certificate.spent.delta > certificate.limit.delta:
        problems.append("spent delta exceeds the limit")
    if certificate.neighbouring != NEIGHBOURING:
        problems.append(f"unknown neighbouring relation {certificate.neighbouring!r}")
    should_be_valid = not certificate.leaks and certificate.domain_provenance != "inferred"
    if certificate.valid and not should_be_valid:
        problems.append("marked valid although the domain was inferred or non-private releases were recorded")
    if not certificate.valid:
        reasons = list(certificate.leaks) + (["the domain was inferred from the data"] if certificate.domain_provenance == "inferred" else [])
        problems.append("the certificate is marked invalid (no DP guarantee): " + "; ".join(reasons or ["no reason recorded"]))
    return Verification(not problems, recomputed, claimed, tuple(problems))
