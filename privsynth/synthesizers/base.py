"""The ``Synthesizer`` base class: the scikit-learn contract, budgets, certificates, model files.

Subclasses implement four small hooks -- ``_fit``, ``_sample``, ``_state`` and ``_restore`` --
and inherit everything a user relies on: parameter checks, validation against the public
domain, a ledger (their own or a shared one), the certificate, reproducible sampling, and
``save`` / :func:`load` through the pickle-free model file of :mod:`privsynth.core.io`.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core.dataset import validate
from privsynth.core.domain import Domain
from privsynth.core.errors import DomainError, IntegrityError, NotFittedError
from privsynth.core.io import read_bundle, write_bundle
from privsynth.core.rng import derive_seed, resolve_rng
from privsynth.privacy.budget import Budget
from privsynth.privacy.certificate import Certificate
from privsynth.privacy.ledger import Ledger

__all__ = ["Synthesizer", "load", "register"]

_REGISTRY: dict[str, type["Synthesizer"]] = {}


def register(cls: type["Synthesizer"]) -> type["Synthesizer"]:
    """Class decorator: make a synthesizer loadable by :func:`load` (an explicit list, no
    plugin discovery)."""
    _REGISTRY[cls.__name__] = cls
    return cls


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    if isinstance(value, Mapping):  # also config objects such as OmegaConf's DictConfig
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):  # lists, tuples, ListConfig
        return [_json_safe(v) for v in value]
    return f"<{type(value).__name__}>"


class Synthesizer(ABC):
    """Base class of every DP synthesizer.

    The contract (checked for every synthesizer by :func:`privsynth.testing.check_synthesizer`):
    ``__init__`` stores keyword parameters and nothing else; ``fit(data, domain)`` returns
    ``self``; learned state ends in ``_``; ``certificate_`` says what was spent;
    ``sample(n)`` returns a DataFrame in the domain's columns and dtypes.

    Every subclass has the keyword parameters ``epsilon``, ``delta``, ``accountant``,
    ``random_state`` and ``secure``.
    """

    #: Assumptions every certificate of this class states, besides the RNG's.
    assumptions: ClassVar[tuple[str, ...]] = ()

    epsilon: float
    delta: float
    accountant: str
    random_state: Any
    secure: bool

    # -- parameters (scikit-learn style) ------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind is not p.VAR_KEYWORD]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "Synthesizer":
        """Change constructor parameters (takes effect at the next ``fit``)."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {key!r}; it has {sorted(valid)}.")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_params(self) -> None:
        """Validate parameters at ``fit`` (never in ``__init__``); subclasses extend it."""
        eps, delta = self.epsilon, self.delta
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
            raise ValueError(f"{type(self).__name__}: epsilon must be a finite number > 0, got {eps!r}.")
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 <= delta < 1:
            raise ValueError(f"{type(self).__name__}: delta must be in [0, 1), got {delta!r}.")
        if not isinstance(self.secure, bool):
            raise ValueError(f"{type(self).__name__}: secure must be True or False.")
        bins = getattr(self, "bins", 1)
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"{type(self).__name__}: bins must be a positive integer, got {bins!r}.")

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, domain: Domain, *, ledger: Ledger | None = None) -> "Synthesizer":
        """Fit on ``data`` under the public ``domain``, spending ``(epsilon, delta)``.

        Args:
            data: The private table; it must conform to ``domain`` (see
                :func:`privsynth.core.validate`, which can clip numbers to the public bounds).
            domain: The public domain. An inferred one makes the certificate invalid.
            ledger: A shared ledger to charge instead of a fresh one with budget
                ``(epsilon, delta)``; the synthesizer still calibrates for its own
                ``(epsilon, delta)``, and the shared ledger refuses overspending.

        Returns:
            ``self``.

        Raises:
            DomainError: the data do not conform to the domain, or are empty.
            BudgetExceededError: a shared ledger has too little budget left.
        """
        self._check_params()
        checked = validate(data, domain)
        if len(checked) == 0:
            raise DomainError("Cannot fit on an empty table; pass at least one record.")
        if ledger is None:
            ledger = Ledger(Budget(epsilon=self.epsilon, delta=self.delta), accountant=self.accountant)
        elif not isinstance(ledger, Ledger):
            raise TypeError(f"ledger must be a privsynth Ledger, got {type(ledger).__name__}.")
        elif ledger.budget.delta < self.delta:
            raise ValueError(
                f"The shared ledger's delta ({ledger.budget.delta:g}) is below this synthesizer's delta "
                f"({self.delta:g}); lower delta or raise the ledger's."
            )
        rng = resolve_rng(self.random_state)
        self._fit(checked, domain, ledger=ledger, rng=rng)
        self._certify(ledger, domain, rng)
        return self

    def _certify(self, ledger: Ledger, domain: Domain, rng: np.random.Generator, *, parameters: Mapping[str, Any] | None = None,
                 assumptions: tuple[str, ...] = ()) -> None:
        """Finish a fit: remember the domain, seed the sample stream, freeze the certificate."""
        self.domain_ = domain
        self.sample_seed_ = derive_seed(rng)
        self.n_sample_calls_ = 0
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else None
        self.certificate_ = Certificate.from_ledger(
            ledger,
            domain=domain,
            synthesizer=type(self).__name__,
            parameters={**_json_safe(self.get_params()), **dict(parameters or {})},
            seed=None if seed is None else int(seed),
            assumptions=(*self._assumptions(), *assumptions),
        )

    def _assumptions(self) -> tuple[str, ...]:
        rng = (
            "noise drawn from the OS CSPRNG with exact integer samplers (secure=True)"
            if self.secure
            else "noise drawn from numpy's PCG64 generator seeded by random_state; use secure=True for final releases"
        )
        return (
            "neighbouring datasets differ by adding or removing one record",
            "domain (categories, bounds, bins) is public metadata",
            rng,
            *self.assumptions,
        )

    @abstractmethod
    def _fit(self, data: pd.DataFrame, domain: Domain, *, ledger: Ledger, rng: np.random.Generator) -> None:
        """Learn from validated ``data``; every release goes through a mechanism on ``ledger``."""

    # -- sampling ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "certificate_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(data, domain) first.")

    def sample(self, n: int, *, random_state: Any = None) -> pd.DataFrame:
        """Draw ``n`` synthetic records (post-processing: no privacy cost).

        Args:
            n: Number of records.
            random_state: Seed or Generator; ``None`` continues the model's own reproducible
                stream (each call draws new records; a saved and reloaded model continues it).
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}.")
        if random_state is None:
            rng = np.random.default_rng([self.sample_seed_, self.n_sample_calls_])
            self.n_sample_calls_ += 1
        else:
            rng = resolve_rng(random_state)
        return self._sample(int(n), rng)

    @abstractmethod
    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """``n`` records in the domain's columns and dtypes."""

    # -- persistence ---------------------------------------------------------------------------
    @abstractmethod
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Learned state as (JSON-safe dict, arrays): DP outputs and public metadata only."""

    @abstractmethod
    def _restore(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Inverse of :meth:`_state`."""

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to one pickle-free file (see :mod:`privsynth.core.io`)."""
        self._check_fitted()
        state, arrays = self._state()
        model = {
            "class": type(self).__name__,
            "params": _json_safe(self.get_params()),
            "state": state,
            "sample_seed": self.sample_seed_,
            "n_sample_calls": self.n_sample_calls_,
        }
        return write_bundle(
            path,
            documents={"model": model, "certificate": self.certificate_.to_dict(), "domain": self.domain_.to_dict()},
            arrays=arrays,
        )


def load(path: str | Path) -> Synthesizer:
    """Load a model file written by :meth:`Synthesizer.save`, verifying it first.

    Raises:
        IntegrityError: the file is corrupt, tampered with, unsafe, of an unknown format, or
            names a synthesizer this privsynth does not know.
    """
    documents, arrays = read_bundle(path)
    try:
        model, cert_doc, domain_doc = documents["model"], documents["certificate"], documents["domain"]
        if model["class"] in ("DPVAE", "DPGAN") and model["class"] not in _REGISTRY:
            import privsynth.synthesizers as synthesizers  # the deep extra, loaded on demand

            getattr(synthesizers, model["class"])
        cls = _REGISTRY[model["class"]]
    except KeyError as exc:
        raise IntegrityError(f"Model file lacks {exc} or names an unknown synthesizer.") from None
    certificate = Certificate.from_dict(cert_doc)
    try:
        domain = Domain.from_dict(domain_doc)
    except DomainError as exc:
        raise IntegrityError(f"The model's domain is malformed: {exc}") from None
    if certificate.domain_fingerprint != domain.fingerprint():
        raise IntegrityError("The model's domain does not match the fingerprint in its certificate.")
    params = {k: v for k, v in model.get("params", {}).items() if k in cls._param_names()}
    if isinstance(params.get("random_state"), str):
        params["random_state"] = None
    synth = cls(**params)
    synth._restore(model.get("state", {}), arrays)
    synth.domain_ = domain
    synth.certificate_ = certificate
    synth.sample_seed_ = int(model["sample_seed"])
    synth.n_sample_calls_ = int(model.get("n_sample_calls", 0))
    return synth
