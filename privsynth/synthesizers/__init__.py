"""DP synthesizers. Every class here passes :func:`privsynth.testing.check_synthesizer`.

``DPVAE``, ``DPGAN``, ``DPTransformer``, ``DPDiffusion`` and ``NeuralAIM`` import torch on first use (the ``deep`` extra) to fit; the rest
need numpy only, and sampling a fitted model needs numpy only for every one.
Short names for the command line and configs are in :mod:`privsynth.synthesizers.names`.
"""

from privsynth.synthesizers.aim import AIM
from privsynth.synthesizers.base import Synthesizer
from privsynth.synthesizers.copula import DPGaussianCopula
from privsynth.synthesizers.independent import IndependentMarginals
from privsynth.synthesizers.model_file import load
from privsynth.synthesizers.mst import MST
from privsynth.synthesizers.names import ALL_NAMES, BASIC_NAMES, SYNTHESIZERS, synthesizer_class
from privsynth.synthesizers.privbayes import PrivBayes


def __getattr__(name: str):
    """``DPVAE``, ``DPGAN``, ``DPTransformer``, ``DPDiffusion`` and ``NeuralAIM``, imported on first use."""
    if name in ("DPVAE", "DPGAN", "DPTransformer", "DPDiffusion", "NeuralAIM"):
        return synthesizer_class(name)
    raise AttributeError(f"module 'privsynth.synthesizers' has no attribute {name!r}")


__all__ = ["Synthesizer", "load", "synthesizer_class", "ALL_NAMES", "BASIC_NAMES", "SYNTHESIZERS",
           "IndependentMarginals", "PrivBayes", "DPGaussianCopula", "MST", "AIM", "NeuralAIM", "DPVAE", "DPGAN",
           "DPTransformer", "DPDiffusion"]
