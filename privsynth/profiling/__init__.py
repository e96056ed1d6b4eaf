"""From your own table to a domain: profiling, identifier/PII detection, DP domain estimation.

* :func:`profile` -- a *draft* domain (``provenance="inferred"``) with a commented YAML file and
  a report for the data owner; direct identifiers get ``role: identifier`` (dropped).
* :func:`detect_identifiers` -- which columns look like names, SSNs, e-mails ... and the
  regulation categories they map to.
* :func:`estimate_domain` -- a domain read off the data *with differential privacy*
  (``provenance="dp"``), whose charges every fit on it carries into its certificate.
* :func:`dp_bins` -- numeric bins chosen with DP (PrivTree), and :func:`dp_merge_rare` -- rare
  categories merged into one cell with DP: the benchmark papers' preprocessing; their charges
  travel with the domain in the same way; :func:`dp_preprocess` runs either or both on a share of a
  fit's budget, as the papers do.
"""

from privsynth.profiling.dp_binning import dp_bins
from privsynth.profiling.dp_domain import OTHER, estimate_domain
from privsynth.profiling.dp_merge import dp_merge_rare
from privsynth.profiling.dp_preprocess import dp_preprocess
from privsynth.profiling.identifiers import DIRECT_KINDS, KINDS, Detection, detect_identifiers, luhn_valid
from privsynth.profiling.profile import ColumnProfile, Profile, nice_bounds, profile, read_raw

__all__ = ["profile", "Profile", "ColumnProfile", "nice_bounds", "read_raw", "Detection", "KINDS", "DIRECT_KINDS",
           "detect_identifiers", "luhn_valid", "estimate_domain", "OTHER", "dp_bins", "dp_merge_rare",
           "dp_preprocess"]
