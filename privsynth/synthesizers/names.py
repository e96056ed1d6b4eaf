"""The one table of synthesizer names: short name -> (module, class, extra), strings only.

The command line, the configs, :func:`privsynth.load` and the data-parallel workers find a
synthesizer here. Reading the table imports no synthesizer (and no torch); a class is imported
when asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["SYNTHESIZERS", "ALL_NAMES", "BASIC_NAMES", "synthesizer_class", "short_name"]

#: Short name (CLI ``--synthesizer``, config ``synthesizer=``) -> (module, class, extra it needs).
SYNTHESIZERS: dict[str, tuple[str, str, str | None]] = {
    "independent": ("privsynth.synthesizers.independent", "IndependentMarginals", None),
    "privbayes": ("privsynth.synthesizers.privbayes", "PrivBayes", None),
    "dpgaussiancopula": ("privsynth.synthesizers.copula", "DPGaussianCopula", None),
    "mst": ("privsynth.synthesizers.mst", "MST", None),
    "aim": ("privsynth.synthesizers.aim", "AIM", None),
    "neuralaim": ("privsynth.synthesizers.neural_aim", "NeuralAIM", "deep"),
    "dpvae": ("privsynth.synthesizers.dpvae", "DPVAE", "deep"),
    "dpgan": ("privsynth.synthesizers.dpgan", "DPGAN", "deep"),
    "dptransformer": ("privsynth.synthesizers.dptransformer", "DPTransformer", "deep"),
    "dpdiffusion": ("privsynth.synthesizers.dpdiffusion", "DPDiffusion", "deep"),
}
#: Every short name, sorted.
ALL_NAMES = tuple(sorted(SYNTHESIZERS))
#: The names that need no extra (numpy only).
BASIC_NAMES = tuple(name for name in ALL_NAMES if SYNTHESIZERS[name][2] is None)


def synthesizer_class(name: str) -> Any:
    """The class for a short name (``"privbayes"``) or a class name (``"PrivBayes"``).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
        ImportError: the class needs an extra that is not installed (the message names it).

    Example:
        >>> synthesizer_class("privbayes").__name__, synthesizer_class("PrivBayes").__name__
        ('PrivBayes', 'PrivBayes')
    """
    by_class = {cls: short for short, (_, cls, _) in SYNTHESIZERS.items()}
    short = name if name in SYNTHESIZERS else by_class.get(name)
    if short is None:
        raise ValueError(f"Unknown synthesizer {name!r}; choose from {list(ALL_NAMES)}.")
    module, cls, extra = SYNTHESIZERS[short]
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        if extra is None:
            raise
        raise ImportError(f"{cls} needs the {extra!r} extra (torch and opacus): pip install 'privsynth[{extra}]' ({exc}).") from exc


def short_name(model: Any) -> str | None:
    """The short name of a synthesizer instance or class (``None`` for a class not in the table).

    Example:
        >>> short_name(synthesizer_class("mst"))
        'mst'
    """
    cls = model if isinstance(model, type) else type(model)
    return next((short for short, (_, name, _) in SYNTHESIZERS.items() if name == cls.__name__), None)
