"""DP synthesizers. Every class here passes :func:`privsynth.testing.check_synthesizer`."""

from privsynth.synthesizers.base import Synthesizer, load
from privsynth.synthesizers.copula import DPGaussianCopula
from privsynth.synthesizers.independent import IndependentMarginals
from privsynth.synthesizers.privbayes import PrivBayes

#: Short names used by the command line and configs.
SYNTHESIZERS: dict[str, type[Synthesizer]] = {
    "independent": IndependentMarginals,
    "privbayes": PrivBayes,
    "dpgaussiancopula": DPGaussianCopula,
}

__all__ = ["Synthesizer", "load", "IndependentMarginals", "PrivBayes", "DPGaussianCopula", "SYNTHESIZERS"]
