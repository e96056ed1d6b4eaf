"""The error hierarchy and the privacy-leak warning.

Every error says *what* went wrong, *why* it matters and *how* to fix it. Validation never
uses ``assert`` (which ``python -O`` strips); it raises one of these.
"""

from __future__ import annotations

__all__ = [
    "PrivsynthError",
    "DomainError",
    "BudgetExceededError",
    "NotFittedError",
    "IntegrityError",
    "TrustError",
    "ConfigError",
    "PrivacyLeakWarning",
    "ReleaseQualityWarning",
    "IdentifierWarning",
]


class PrivsynthError(Exception):
    """Base class of every error privsynth raises on purpose."""


class DomainError(PrivsynthError, ValueError):
    """Data do not match the declared public domain (or the domain itself is malformed).

    Messages name the column and what is wrong, never a count or a statistic of the values:
    an error is an output too, and must read the same for neighbouring datasets.
    """


class BudgetExceededError(PrivsynthError):
    """A charge would take a ledger past its privacy budget; nothing was recorded or computed."""


class NotFittedError(PrivsynthError, AttributeError):
    """A synthesizer was used before ``fit``."""


class IntegrityError(PrivsynthError):
    """A model or certificate file is corrupt, tampered with, of an unknown format, or unsafe."""


class TrustError(IntegrityError):
    """A file is intact but fails the caller's trust policy: unsigned, signed by a key that is not
    trusted, over ``max_epsilon``, or with a certificate that is not valid."""


class ConfigError(PrivsynthError, ValueError):
    """A run configuration is invalid; the message names the offending key."""


class PrivacyLeakWarning(UserWarning):
    """Something data-dependent was released or read without being charged to a privacy budget."""


class IdentifierWarning(UserWarning):
    """A column being synthesized looks like a direct identifier (a name, an SSN, an e-mail ...):
    its declared categories or values are probably the real identifiers of real people."""


class ReleaseQualityWarning(UserWarning):
    """A sampled release disagrees grossly with the DP marginals its model released (a collapsed
    or broken model). Comparing DP outputs with a release is post-processing: no budget."""
