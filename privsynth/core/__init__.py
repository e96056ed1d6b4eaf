"""Core value objects: the public domain, data validation/encoding, RNG and errors."""

from privsynth.core.dataset import decode, encode, levels, validate
from privsynth.core.domain import Categorical, Column, Domain, Numeric, Ordinal
from privsynth.core.errors import (
    BudgetExceededError,
    DomainError,
    IntegrityError,
    NotFittedError,
    PrivacyLeakWarning,
    PrivsynthError,
    ReleaseQualityWarning,
    TrustError,
)
from privsynth.core.rng import PrivateRandomness, SecureRandom, resolve_rng

__all__ = [
    "Domain", "Categorical", "Ordinal", "Numeric", "Column", "validate", "encode", "decode", "levels",
    "PrivsynthError", "DomainError", "BudgetExceededError", "NotFittedError", "IntegrityError", "TrustError", "ReleaseQualityWarning",
    "PrivacyLeakWarning", "SecureRandom", "PrivateRandomness", "resolve_rng",
]
