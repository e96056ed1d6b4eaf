"""DP synthesizers. Every class here passes :func:`privsynth.testing.check_synthesizer`."""

from privsynth.synthesizers.base import Synthesizer, load
from privsynth.synthesizers.independent import IndependentMarginals

#: Short names used by the command line and configs.
SYNTHESIZERS: dict[str, type[Synthesizer]] = {"independent": IndependentMarginals}

__all__ = ["Synthesizer", "load", "IndependentMarginals", "SYNTHESIZERS"]
