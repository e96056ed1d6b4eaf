"""The graphical-model engine (post-processing only: it never sees data).

Factors over the public domain (:mod:`.factor`), junction trees (:mod:`.junction_tree`), belief
propagation (:mod:`.inference`), models and their marginals (:mod:`.model`), estimation from
noisy marginal measurements (:mod:`.estimation`) and sampling (:mod:`.sampling`: i.i.d. or stratified). MST
and AIM measure with mechanisms on the ledger and hand the measurements here.
"""

from privsynth.graphical.estimation import Estimate, Measurement, estimate, estimate_total
from privsynth.graphical.inference import belief_propagation
from privsynth.graphical.junction_tree import JunctionTree
from privsynth.graphical.model import GraphicalModel
from privsynth.graphical.sampling import SAMPLERS, draw_rows, sample_codes, systematic_rows

__all__ = ["SAMPLERS", "Estimate", "GraphicalModel", "JunctionTree", "Measurement", "belief_propagation", "draw_rows",
           "estimate", "estimate_total", "sample_codes", "systematic_rows"]
