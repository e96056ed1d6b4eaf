"""privsynth: differentially private tabular synthetic data with verifiable certificates.

Example:
    >>> import privsynth as ps
    >>> df, domain = ps.datasets.make_census(1000, random_state=0)
    >>> syn = ps.synthesizers.IndependentMarginals(epsilon=1.0, random_state=0).fit(df, domain)
    >>> ps.verify(syn.certificate_).ok
    True
"""

from privsynth import data, datasets, evaluation, mechanisms, privacy, profiling, relational, synthesizers
from privsynth.core.domain import Categorical, Domain, Numeric, Ordinal
from privsynth.core.errors import (
    BudgetExceededError,
    DomainError,
    IdentifierWarning,
    IntegrityError,
    NotFittedError,
    PrivacyLeakWarning,
    PrivsynthError,
    ReleaseQualityWarning,
    TrustError,
)
from privsynth.privacy.budget import Budget
from privsynth.privacy.certificate import Certificate, verify
from privsynth.privacy.ledger import Ledger
from privsynth.profiling import detect_identifiers, estimate_domain, profile
from privsynth.synthesizers.model_file import load

try:
    from importlib.metadata import version as _version

    __version__ = _version("privsynth")
except Exception:  # noqa: BLE001 - not installed (running from a checkout)
    __version__ = "0.0.0+unknown"

__all__ = [
    "Domain", "Categorical", "Ordinal", "Numeric", "Budget", "Ledger", "Certificate", "verify", "load",
    "synthesizers", "relational", "evaluation", "data", "datasets", "mechanisms", "privacy", "profiling", "profile", "detect_identifiers",
    "estimate_domain", "IdentifierWarning",
    "PrivsynthError", "DomainError", "BudgetExceededError", "NotFittedError", "IntegrityError", "TrustError", "ReleaseQualityWarning",
    "PrivacyLeakWarning",
    "__version__",
]
