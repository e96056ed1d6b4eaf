"""Privacy accounting: events, pure accountants, the ledger, calibration and certificates."""

from privsynth.privacy.accountants import NEIGHBOURING, NEIGHBOURING_PERSON, Accountant, PldAccountant, RdpAccountant, get_accountant
from privsynth.privacy.budget import Budget
from privsynth.privacy.calibrate import (
    calibrate_noise_multiplier,
    dpsgd_noise_multiplier,
    gaussian_noise_multiplier,
    laplace_noise_multiplier,
    split_epsilon,
)
from privsynth.privacy.certificate import Certificate, Verification, verify
from privsynth.privacy.events import (
    ComposedEvent,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    PartitionSelectionEvent,
    PureDpEvent,
    SubsampledGaussianEvent,
    event_from_dict,
    event_to_dict,
)
from privsynth.privacy.group import PersonLevelLedger, person_level_event
from privsynth.privacy.ledger import Ledger, LedgerEntry

__all__ = [
    "Accountant", "RdpAccountant", "PldAccountant", "get_accountant", "NEIGHBOURING", "NEIGHBOURING_PERSON", "Budget",
    "PersonLevelLedger", "person_level_event",
    "Ledger", "LedgerEntry", "Certificate", "Verification", "verify",
    "calibrate_noise_multiplier", "dpsgd_noise_multiplier", "gaussian_noise_multiplier",
    "laplace_noise_multiplier", "split_epsilon",
    "LaplaceEvent", "GaussianEvent", "ExponentialEvent", "PureDpEvent", "SubsampledGaussianEvent",
    "PartitionSelectionEvent",
    "ComposedEvent", "event_to_dict", "event_from_dict",
]
