"""The ``Synthesizer`` base class: the scikit-learn contract, budgets, certificates, model files.

Subclasses implement five small hooks -- ``_plan``, ``_fit``, ``_sample``, ``_state`` and
``_restore`` -- and inherit everything a user relies on: parameter checks, validation against
the public domain, a ledger (their own or a shared one) that refuses the whole plan before the
first charge, the fit's private randomness (:class:`~privsynth.core.rng.PrivateRandomness`),
the certificate, sampling, and ``save`` / :func:`load` through the pickle-free, optionally
signed model file of :mod:`privsynth.core.io`.

What a fitted model stores is released: DP outputs and public metadata only. ``random_state``
is a secret key (DESIGN.md rule 6) and is written nowhere -- not in the certificate, not in the
model file.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core import checks
from privsynth.core.dataset import encode
from privsynth.core.domain import DEFAULT_BINS, Domain
from privsynth.core.errors import NotFittedError, PrivsynthError, ReleaseQualityWarning
from privsynth.core.io import write_bundle
from privsynth.core.rng import PrivateRandomness, resolve_rng
from privsynth.core.rules import apply_rules, parse_rules
from privsynth.core.signing import KeyLike
from privsynth.data import Table, open_table
from privsynth.privacy.accountants import Accountant, get_accountant
from privsynth.privacy.budget import MAX_DELTA, Budget, check_delta
from privsynth.privacy.certificate import Certificate
from privsynth.privacy.ledger import Ledger
from privsynth.synthesizers._plan import FitPlan, PlanGuard, same_charges, within_envelope
from privsynth.synthesizers._public_domain import (
    domain_assumptions,
    domain_estimation_entries,
    estimation_budget,
    holds_entries,
    warn_identifiers,
)
from privsynth.synthesizers.forecast import warn_if_noise_dominated

__all__ = ["Synthesizer"]
#: Constructor parameters that are secrets: never written to a certificate or model file.
SECRET_PARAMETERS = ("random_state",)
#: A release is compared with the model's DP marginals when it has at least this many rows (on its first rows up to the max).
_CHECK_MIN_ROWS, _CHECK_MAX_ROWS = 500, 50_000
#: Rounds of drawing more records when the domain's rules reject some.
_MAX_RULE_ROUNDS = 50


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
    ``self``; learned state ends in ``_``; ``certificate_`` says what was spent; ``n_hat_`` is a
    DP estimate of the number of training records (to size a release without revealing the
    count); ``sample(n)`` returns a DataFrame in the domain's columns and dtypes.

    Every subclass has the keyword parameters ``epsilon``, ``delta``, ``accountant``,
    ``random_state`` and ``secure``.
    """

    #: Assumptions every certificate of this class states, besides the randomness's.
    assumptions: ClassVar[tuple[str, ...]] = ()
    #: Whether ``fit(..., checkpoint_dir=...)`` is supported (long, resumable fits).
    supports_checkpoints: ClassVar[bool] = False
    #: Layout of ``_state``/arrays in model files; raise it when ``_restore`` can no longer read older files.
    state_version: ClassVar[int] = 1

    epsilon: float
    delta: float
    accountant: str
    random_state: Any
    secure: bool
    n_hat_: int
    certificate_: Certificate
    signed_by_: str | None

    # -- parameters (scikit-learn style) ------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind is not p.VAR_KEYWORD]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def public_params(self) -> dict[str, Any]:
        """The constructor parameters as plain JSON, without the secret ones (``random_state``):
        what certificates and model files record."""
        return {k: v for k, v in _json_safe(self.get_params()).items() if k not in SECRET_PARAMETERS}

    def set_params(self, **params: Any) -> "Synthesizer":
        """Change constructor parameters (takes effect at the next ``fit``)."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {key!r}; it has {sorted(valid)}.")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" if k not in SECRET_PARAMETERS or v is None else f"{k}=<secret>"
                         for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_params(self) -> None:
        """Validate parameters at ``fit`` (never in ``__init__``); subclasses extend it."""
        owner = type(self).__name__
        checks.number(self.epsilon, "epsilon", low=0, low_open=True, owner=owner)
        checks.number(self.delta, "delta", low=0, high=1, high_open=True, owner=owner)
        checks.flag(self.secure, "secure", owner=owner)
        if hasattr(self, "bins"):
            checks.integer(self.bins, "bins", owner=owner)

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, data: Any, domain: Domain, *, ledger: Ledger | None = None,
            checkpoint_dir: str | Path | None = None, allow_large_delta: bool = False) -> "Synthesizer":
        """Fit on ``data`` under the public ``domain``, spending ``(epsilon, delta)``.

        The fit first plans every charge from its parameters and the public domain, and the
        ledger refuses the whole plan before anything is charged if it does not fit. An empty
        table is a dataset like any other (the release is then pure noise): whether a fit
        succeeds never depends on the data beyond their conformity to the domain.

        Args:
            data: The private table, conforming to ``domain`` (see :func:`privsynth.core.validate`,
                which can clip numbers to the public bounds): a pandas DataFrame, a Parquet or CSV
                path or a ``duckdb:///file.db?table=t`` URI (read by DuckDB out of core), a Spark
                DataFrame or ``spark:<table>``, or a :class:`privsynth.data.Table` (e.g. from
                :func:`privsynth.data.open_table` with engine options). The marginal synthesizers
                only count, in the engine, with the same results whichever engine counts.
            domain: The public domain. An inferred one makes the certificate invalid.
            ledger: A shared ledger to charge instead of a fresh one with budget
                ``(epsilon, delta)``; the synthesizer still calibrates for its own
                ``(epsilon, delta)``, and the shared ledger refuses a plan that would overspend.
            checkpoint_dir: For synthesizers that support it (``supports_checkpoints``): save the
                training state there and resume from it (see the synthesizer's documentation).
            allow_large_delta: Accept a delta (the synthesizer's, or the shared ledger's) above
                :data:`~privsynth.privacy.budget.MAX_DELTA` (1e-4); the certificate then says so.
                Without it such a fit is refused before anything is charged.

        Returns:
            ``self``.

        Raises:
            DomainError: the data do not conform to the domain.
            BudgetExceededError: a shared ledger has too little budget left for the plan; nothing
                was charged.
            ValueError: a parameter is invalid, or a delta is above 1e-4 without ``allow_large_delta``.
        """
        self._check_params()
        if ledger is not None and not isinstance(ledger, Ledger):
            raise TypeError(f"ledger must be a privsynth Ledger, got {type(ledger).__name__}.")
        if checkpoint_dir is not None:
            if not self.supports_checkpoints:
                raise TypeError(f"{type(self).__name__} fits in one pass and takes no checkpoint_dir.")
            if ledger is not None:
                raise ValueError("checkpoint_dir works with the synthesizer's own ledger; do not pass a shared ledger too.")
        table = open_table(data, domain)
        table.check(bins=getattr(self, "bins", DEFAULT_BINS))  # in the engine: refuses out-of-domain values, naming the column
        warn_identifiers(table, domain, what=type(self).__name__)
        accountant = ledger.accountant if ledger is not None else get_accountant(self.accountant)
        plan = self._plan(domain, accountant)
        if ledger is None:  # the fit's delta and its DP domain's: what its own ledger will certify
            check_delta(plan.delta + estimation_budget(domain).delta, allow_large_delta=allow_large_delta,
                        what=f"{type(self).__name__}: delta")
        else:
            check_delta(ledger.budget.delta, allow_large_delta=allow_large_delta, what="the shared ledger's delta")
        estimation = domain_estimation_entries(domain)
        if ledger is None:
            spent = estimation_budget(domain)
            ledger = Ledger(Budget(epsilon=self.epsilon + spent.epsilon, delta=min(plan.delta + spent.delta, 0.5)),
                            accountant=accountant)
        elif ledger.budget.delta < plan.delta:
            raise ValueError(
                f"The shared ledger's delta ({ledger.budget.delta:g}) is below this synthesizer's delta "
                f"({plan.delta:g}); lower delta or raise the ledger's."
            )
        if estimation and not holds_entries(ledger, estimation):
            ledger.extend(estimation)  # the DP domain's own charges come first on the fit's ledger
        ledger.check_plan(plan.events, what=f"{type(self).__name__}.fit")
        randomness = PrivateRandomness(self.random_state, secure=self.secure)
        start = len(ledger.entries)
        with ledger.guarded(PlanGuard(plan, owner=type(self).__name__)):  # nothing unplanned is ever charged
            self._fit(table, domain, ledger=ledger, plan=plan, randomness=randomness, checkpoint_dir=checkpoint_dir)
        charged = [e.event for e in ledger.entries[start:]]
        if not (within_envelope(plan.events, charged) if plan.adaptive else same_charges(plan.events, charged)):
            raise PrivsynthError(f"Internal error: {type(self).__name__} charged events it did not plan; please report it.")
        self._certify(ledger, domain, plan, randomness)
        warn_if_noise_dominated(self, domain)  # from the model's DP record count: post-processing
        if ledger.budget.delta > MAX_DELTA:
            cert: Certificate = self.certificate_
            self.certificate_ = dataclasses.replace(cert, assumptions=(
                *cert.assumptions, f"delta {ledger.budget.delta:g} is above {MAX_DELTA:g}, accepted by the caller "
                "(allow_large_delta): a release may expose a record outright with probability up to delta"))
        return self

    def _certify(self, ledger: Ledger, domain: Domain, plan: FitPlan, randomness: PrivateRandomness) -> None:
        """Finish a fit: remember the domain, freeze the certificate (public parameters only)."""
        self.domain_ = domain
        self.certificate_ = Certificate.from_ledger(
            ledger,
            domain=domain,
            synthesizer=type(self).__name__,
            parameters={**self.public_params(), **_json_safe(dict(plan.parameters))},
            assumptions=(
                "neighbouring datasets differ by adding or removing one record",
                *domain_assumptions(domain),
                *randomness.assumptions(),
                *self.assumptions,
                *plan.assumptions,
            ),
        )

    @abstractmethod
    def _plan(self, domain: Domain, accountant: Accountant) -> FitPlan:
        """Every event the fit will charge, from the parameters and the public domain only."""

    @abstractmethod
    def _fit(self, data: Table, domain: Domain, *, ledger: Ledger, plan: FitPlan, randomness: PrivateRandomness,
             checkpoint_dir: Any = None) -> None:
        """Learn from the validated records of ``data`` (counts, or ``data.to_frame()``): every
        release goes through a mechanism on ``ledger`` with the plan's noise, and every private
        draw through ``randomness``."""

    # -- sampling ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "certificate_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(data, domain) first.")

    def sample(self, n: int, *, random_state: Any = None, conditions: Sequence[Any] | str | None = None) -> pd.DataFrame:
        """Draw ``n`` synthetic records (post-processing: no privacy cost).

        Args:
            n: Number of records.
            random_state: A *public* seed or Generator for reproducible samples (the same seed
                gives the same rows, also after save/load). ``None``: fresh OS entropy, new rows
                every call. It is unrelated to the fit's secret ``random_state``.
            conditions: Extra conditions every record must meet, in the language of the
                domain's business rules (:mod:`privsynth.core.rules`), e.g. ``"age >= 65"`` or
                ``["sex == 'Female'", "if age < 18 then income == '<=50K'"]``: records that
                break one are rejected and drawn again, so the rows come from the model's
                distribution *given* the conditions. A condition the model almost never meets
                (fewer than 1 in 1000 draws) raises, naming it.

        Example:
            >>> import privsynth as ps
            >>> df, domain = ps.datasets.make_census(2000, random_state=0)
            >>> model = ps.synthesizers.PrivBayes(epsilon=1.0, random_state=0).fit(df, domain)
            >>> old = model.sample(100, random_state=1, conditions="age >= 65")
            >>> len(old), bool((old["age"] >= 65).all())
            (100, True)
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}.")
        rng = resolve_rng(random_state)
        extra: tuple = ()
        if conditions:
            extra = (conditions,) if isinstance(conditions, (str, Mapping)) else tuple(conditions)
            parse_rules(extra, self.domain_, strict=True)  # a bad one raises now, naming it
        if self.domain_.rules or extra:
            return self._sample_under_rules(int(n), rng, extra)
        out = self._sample(int(n), rng)
        self._check_release(out)
        return out

    def _sample_under_rules(self, n: int, rng: np.random.Generator, conditions: tuple) -> pd.DataFrame:
        """Draw, derive formula columns, reject records that break a rule of the model's domain
        or do not meet a sampling condition, and draw again until ``n`` records keep every rule
        (post-processing: the rules are public)."""
        domain = self.domain_
        batches, have, drawn, size = [], 0, 0, n
        for round_ in range(_MAX_RULE_ROUNDS):
            raw = self._sample(size, rng)
            if round_ == 0:
                self._check_release(raw)  # the model's own draws, before the rules reshape the marginals
            batch, ok = apply_rules(raw, domain, conditions)
            batches.append(batch[ok])
            have, drawn = have + int(ok.sum()), drawn + size
            if have >= n:
                break
            if drawn >= 2000 and have < 0.001 * drawn:
                break
            rate = max(have, 1) / drawn
            size = int(min(max(1.2 * (n - have) / rate, 100), 20 * n + 1000))
        if have < n:
            rules = parse_rules(domain.rules, domain) + parse_rules(conditions, domain, strict=True)
            worst = max(rules, key=lambda r: int(r.violations(batch).sum()))
            what = "condition" if worst.strict else "rule"
            raise PrivsynthError(
                f"{type(self).__name__}: only {have} of {drawn} sampled records keep the domain's rules and the conditions "
                f"(the {what} {str(worst)!r} rejects most): this model (almost) never meets it. Check the rules against the data "
                "with privsynth.evaluation.rule_violations, or loosen the condition.")
        out = pd.concat(batches, ignore_index=True).iloc[:n].reset_index(drop=True)
        return out

    def _check_release(self, out: pd.DataFrame) -> None:
        """Warn (:class:`ReleaseQualityWarning`), naming the columns, when the release's 1-way
        marginals disagree grossly with the DP marginals the fit released (``marginals_``, where
        the model has them): a total-variation distance above 0.2 plus the sampling error a
        sample of this size allows. Post-processing of DP outputs: no budget, no data."""
        marginals = getattr(self, "marginals_", None)
        if marginals is None or len(out) < _CHECK_MIN_ROWS:
            return
        head = out.iloc[:_CHECK_MAX_ROWS]
        codes = encode(head, self.domain_, bins=getattr(self, "bins", DEFAULT_BINS))
        bad = []
        for j, (name, dp) in enumerate(zip(self.domain_.names, marginals)):
            dp = np.asarray(dp, dtype=float) / max(float(np.sum(dp)), 1e-300)
            seen = np.bincount(codes[:, j], minlength=len(dp)) / len(head)
            tvd = 0.5 * float(np.abs(seen - dp).sum())
            if tvd > 0.2 + np.sqrt(len(dp) / len(head)):
                bad.append(f"{name!r} (TVD {tvd:.2f})")
        if bad:
            warnings.warn(
                f"{type(self).__name__}: the release's 1-way marginals of {', '.join(bad)} differ grossly from the DP "
                "marginals this model released; the model may have collapsed or be broken. Inspect it (e.g. "
                "privsynth.evaluation.plot_marginals) before publishing, or refit with other settings.",
                ReleaseQualityWarning, stacklevel=3)

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

    def save(self, path: str | Path, *, sign_key: KeyLike | None = None) -> Path:
        """Write the fitted model to one pickle-free file (see :mod:`privsynth.core.io`).

        Args:
            path: Where to write.
            sign_key: An Ed25519 private key (the ``.key`` file of ``privsynth keygen``) to sign
                the file with; readers then check it with ``load(path, trusted_keys=[...])``.
        """
        self._check_fitted()
        state, arrays = self._state()
        model = {"class": type(self).__name__, "params": self.public_params(), "state": state,
                 "state_version": type(self).state_version}
        return write_bundle(
            path,
            documents={"model": model, "certificate": self.certificate_.to_dict(), "domain": self.domain_.to_dict()},
            arrays=arrays,
            sign_key=sign_key,
        )
