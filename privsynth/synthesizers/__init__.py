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

_DEEP = {"DPVAE": "privsynth.synthesizers.dpvae", "DPGAN": "privsynth.synthesizers.dpgan"}


def __getattr__(name: str):
    """``DPVAE`` and ``DPGAN`` load torch on first use (the ``deep`` extra), so the rest of the
    package works without it."""
    if name in _DEEP:
        import importlib

        try:
            module = importlib.import_module(_DEEP[name])
        except ImportError as exc:
            raise ImportError(f"{name} needs the 'deep' extra (torch and opacus): pip install 'privsynth[deep]' ({exc}).") from exc
        return getattr(module, name)
    raise AttributeError(f"module 'privsynth.synthesizers' has no attribute {name!r}")


def synthesizer_class(name: str) -> type[Synthesizer]:
    """The class for a command-line/config short name (``"privbayes"``, ``"dpvae"``, ...)."""
    if name in SYNTHESIZERS:
        return SYNTHESIZERS[name]
    deep = {"dpvae": "DPVAE", "dpgan": "DPGAN"}
    if name in deep:
        return __getattr__(deep[name])
    raise ValueError(f"Unknown synthesizer {name!r}; choose from {sorted([*SYNTHESIZERS, *deep])}.")


#: Every short name, the deep ones included (they import torch only when used).
ALL_NAMES = ("dpgan", "dpgaussiancopula", "dpvae", "independent", "privbayes")

__all__ = ["Synthesizer", "load", "synthesizer_class", "ALL_NAMES", "IndependentMarginals", "PrivBayes", "DPGaussianCopula", "SYNTHESIZERS"]
