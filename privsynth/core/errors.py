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
    "PrivacyLeakWarning",
]


class PrivsynthError(Exception):
    """Base class of every error privsynth raises on purpose."""


class DomainError(PrivsynthError, ValueError):
    """Data do not match the declared public domain (or the domain itself is malformed).

    Messages name the column and how many values offend, never the values' statistics.
    """


class BudgetExceededError(PrivsynthError):
    """A charge would take a ledger past its privacy budget; nothing was recorded or computed."""


class NotFittedError(PrivsynthError, AttributeError):
    """A synthesizer was used before ``fit``."""


class IntegrityError(PrivsynthError):
    """A model or certificate file is corrupt, tampered with, of an unknown format, or unsafe."""


class PrivacyLeakWarning(UserWarning):
    """Something data-dependent was released or read without being charged to a privacy budget."""
