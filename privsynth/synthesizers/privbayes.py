"""``PrivBayes``: a differentially private Bayesian network (Zhang, Cormode, Procopiuc,
Srivastava, Xiao, "PrivBayes: Private Data Release via Bayesian Networks", ACM TODS 2017).

Fitting spends three parts of the budget, each through a mechanism on the ledger:

1. a noisy record count (a small share), used only to bound the size of conditional tables
   (the paper's theta-usefulness) -- post-processing of a DP output;
2. the network structure: attributes join in a greedy order; each step picks the next
   ``(attribute, parents)`` pair with the exponential mechanism on the paper's R score
   (``structure_share`` of the rest);
3. the conditional distributions: one noisy joint histogram of each attribute with its parents.

Everything after -- clipping, normalizing, falling back to marginals for empty parent
configurations, ancestral sampling -- is post-processing.

Sensitivity of the score. We use the count-scale R score
``R(X, P) = 1/2 * sum_{x,p} |c(x,p) - c(x) c(p) / n|`` (n times the paper's R, the L1 distance
of the joint from the product of its marginals). Adding one record ``(x0, p0)`` changes the
cells with ``x != x0, p != p0`` by ``c(x)c(p)/(n(n+1))`` in total at most ``(n-a)(n-b)/(n(n+1))``
(``a = c(x0)``, ``b = c(p0)``), the cells with exactly one of ``x0, p0`` by the same amount
each, and the cell ``(x0, p0)`` by at most 1 (``1 - [n(a+b+1) - ab]/(n(n+1))`` lies in
``[0, 1]``). So the sum of absolute values moves by less than ``3 + 1 = 4`` and R by less than
2, whatever ``n``: sensitivity 2 under add/remove-one, with no need to know ``n``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from privsynth.core import checks
from privsynth.core.dataset import decode, levels
from privsynth.core.domain import DEFAULT_BINS, Domain
from privsynth.core.progress import progress
from privsynth.core.rng import PrivateRandomness
from privsynth.data.table import Table
from privsynth.mechanisms.counts import noisy_count, noisy_counts
from privsynth.mechanisms.exponential import exponential
from privsynth.privacy.accountants import Accountant
from privsynth.privacy.calibrate import split_epsilon
from privsynth.privacy.events import ExponentialEvent
from privsynth.privacy.ledger import Ledger
from privsynth.synthesizers._discrete import conditional_table, joint_index, sample_conditional
from privsynth.synthesizers._plan import FitPlan, count_event, histogram_noise
from privsynth.synthesizers.base import Synthesizer

__all__ = ["PrivBayes", "r_score", "joint_r_score", "R_SCORE_SENSITIVITY"]

#: Sensitivity of the count-scale R score under add/remove-one (see the module docstring).
R_SCORE_SENSITIVITY = 2.0
_MAX_AUTO_DEGREE = 3
_COUNT_SHARE = 0.02


def r_score(child: np.ndarray, parents: np.ndarray, child_size: int, parent_sizes: tuple[int, ...]) -> float:
    """Count-scale R score of a child column given parent columns (codes). Private: released
    only through the exponential mechanism.

    Example:
        >>> x = np.array([0, 0, 1, 1]); p = np.array([[0], [0], [1], [1]])
        >>> r_score(x, p, 2, (2,))  # perfectly dependent: |2 - 1| * 4 cells / 2
        2.0
    """
    if len(child) == 0 or parents.shape[1] == 0:
        return 0.0
    n_parent = int(np.prod(parent_sizes))
    pidx = joint_index(parents, parent_sizes)
    joint = np.bincount(pidx * child_size + child, minlength=n_parent * child_size).reshape(n_parent, child_size)
    return joint_r_score(joint)


def joint_r_score(joint: np.ndarray) -> float:
    """The R score from the exact joint counts of the parents (leading axes) and the child
    (last axis). Private: released only through the exponential mechanism.

    Example:
        >>> joint_r_score(np.array([[2, 0], [0, 2]]))
        2.0
    """
    joint = np.asarray(joint)
    if joint.ndim < 2:
        return 0.0
    joint = joint.reshape(-1, joint.shape[-1])
    n = joint.sum()
    if n == 0:
        return 0.0
    expected = np.outer(joint.sum(axis=1), joint.sum(axis=0)) / n
    return float(0.5 * np.abs(joint - expected).sum())


class PrivBayes(Synthesizer):
    """Differentially private Bayesian network (PrivBayes, Zhang et al. TODS 2017).

    Args:
        epsilon: Privacy budget.
        delta: ``0`` for pure DP; with ``delta > 0`` (and the RDP accountant) the conditional
            tables get discrete Gaussian noise and the exponential-mechanism steps compose as
            bounded-range mechanisms, which is tighter.
        degree: Maximum number of parents, or ``"auto"``: up to 3, limited by theta-usefulness.
        theta: Theta-usefulness: a conditional table may have at most
            ``n_hat / (theta * noise_scale)`` cells, so that its average noisy count stays
            ``theta`` times above the per-cell noise (paper, Section 4.5). The paper suggests 4
            for binary encodings; 16 (the default) gave the lowest 2- and 3-way marginal error
            on Adult at epsilon 0.3, 1 and 3 (``benchmarks/statistical.py``).
        structure_share: Share of the budget (after the count) spent on the structure
            (paper: 0.3; default 0.1, chosen on Adult like ``theta``).
        bins: Bins for numeric columns whose domain declares none.
        accountant: ``"rdp"`` or ``"pld"``.
        random_state: Secret seed that makes the fit reproducible (research only; see
            :class:`~privsynth.core.rng.PrivateRandomness`). ``None``: fresh OS entropy.
        secure: Draw noise from the OS CSPRNG with exact samplers.
        progress: Show progress: a bar on a terminal, else a log line (logger
            ``privsynth.progress``, INFO) every 30 s; ``False``: none. It shows step counts only.

    Attributes:
        network_: ``[(attribute, parents), ...]`` in sampling order (DP output).
        conditionals_: ``P(attribute | parents)`` tables, ``(n_parent_configs, n_levels)``.
        n_hat_: The noisy record count.

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(2000, random_state=0)
        >>> syn = PrivBayes(epsilon=1.0, random_state=0).fit(df, domain)
        >>> len(syn.network_) == len(domain)
        True
        >>> syn.sample(5).shape
        (5, 10)
    """

    assumptions = ("network structure chosen by the exponential mechanism; conditional tables from noisy joint counts",)

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float = 0.0,
        degree: int | str = "auto",
        theta: float = 16.0,
        structure_share: float = 0.1,
        bins: int = DEFAULT_BINS,
        accountant: str = "rdp",
        random_state: Any = None,
        secure: bool = False,
        progress: bool | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.degree = degree
        self.theta = theta
        self.structure_share = structure_share
        self.bins = bins
        self.accountant = accountant
        self.random_state = random_state
        self.secure = secure
        self.progress = progress

    def _check_params(self) -> None:
        super()._check_params()
        if self.degree != "auto":
            checks.integer(self.degree, "degree (or 'auto')", low=0, owner="PrivBayes")
        checks.number(self.theta, "theta", low=0, low_open=True, owner="PrivBayes")
        checks.number(self.structure_share, "structure_share", low=0, high=1, low_open=True, high_open=True, owner="PrivBayes")

    # -- fitting ---------------------------------------------------------------------------
    def _budget(self, d: int) -> tuple[float, float, float]:
        eps_count, rest = split_epsilon(self.epsilon, [_COUNT_SHARE, 1 - _COUNT_SHARE])
        if d == 1:
            return eps_count, 0.0, rest
        eps_structure, eps_tables = split_epsilon(rest, [self.structure_share, 1 - self.structure_share])
        return eps_count, eps_structure, eps_tables

    def _candidates(self, child: int, chosen: list[int], sizes: tuple[int, ...], max_cells: float) -> list[tuple[int, ...]]:
        """Maximal parent sets (of at most ``degree`` attributes already in the network) whose
        table with ``child`` fits ``max_cells``; the empty set when nothing else fits."""
        k = _MAX_AUTO_DEGREE if self.degree == "auto" else int(self.degree)
        k = min(k, len(chosen))
        fits = lambda ps: sizes[child] * math.prod(sizes[p] for p in ps) <= max_cells  # noqa: E731
        found: list[tuple[int, ...]] = []
        for size in range(k, 0, -1):
            for ps in itertools.combinations(chosen, size):
                if fits(ps) and not any(set(ps) < set(f) for f in found):
                    found.append(ps)
            if self.degree != "auto" and found:
                break
        return found or [()]

    def _plan(self, domain: Domain, accountant: Accountant) -> FitPlan:
        d = len(domain)
        eps_count, eps_structure, eps_tables = self._budget(d)
        tables, table_events = histogram_noise(epsilon=eps_tables, delta=self.delta, count=d, accountant=accountant)
        step_eps = split_epsilon(eps_structure, [1.0] * (d - 1)) if d > 1 else ()
        noise_scale = tables[0].get("noise_multiplier") or 1.0 / tables[0]["epsilon"]
        return FitPlan(
            events=(count_event(eps_count), *(ExponentialEvent(epsilon=e) for e in step_eps), *table_events),
            delta=self.delta,
            settings={"eps_count": eps_count, "step_eps": step_eps, "tables": tables, "noise_scale": noise_scale},
        )

    def _fit(self, data: Table, domain: Domain, *, ledger: Ledger, plan: FitPlan, randomness: PrivateRandomness,
             checkpoint_dir: Any = None) -> None:
        sizes = levels(domain, bins=self.bins)
        d = len(domain)
        rng = randomness.generator("releases")
        self.n_hat_ = noisy_count(data, epsilon=plan["eps_count"], ledger=ledger, rng=rng, secure=self.secure,
                                  label="record count (for table sizes)")
        # theta-usefulness: average noisy count per cell >= theta * noise scale
        max_cells = max(float(max(sizes)), self.n_hat_ / (self.theta * plan["noise_scale"]))
        self.max_cells_ = max_cells

        first = int(randomness.generator("public").integers(d))  # public randomness, no privacy cost
        network: list[tuple[int, tuple[int, ...]]] = [(first, ())]
        chosen = [first]
        scores: dict[tuple[int, tuple[int, ...]], float] = {}
        bar = progress(total=2 * d, desc="PrivBayes", unit="step", enabled=self.progress)
        bar.update(1)
        for step, step_eps in enumerate(plan["step_eps"]):
            pairs = [(x, ps) for x in range(d) if x not in chosen for ps in self._candidates(x, chosen, sizes, max_cells)]
            new = [pair for pair in pairs if pair not in scores]
            for pair, joint in zip(new, data.marginals([(*ps, x) for x, ps in new], bins=self.bins)):  # one pass per step
                scores[pair] = joint_r_score(joint)
            pick = exponential(
                np.array([scores[p] for p in pairs]), sensitivity=R_SCORE_SENSITIVITY, epsilon=step_eps,
                ledger=ledger, rng=rng, secure=self.secure, label=f"structure step {step + 1}: choose next attribute and parents",
            )
            network.append(pairs[pick])
            chosen.append(pairs[pick][0])
            bar.update(1)

        conditionals = []
        exact = data.marginals([(*ps, x) for x, ps in network], bins=self.bins)
        for (x, ps), kwargs, joint in zip(network, plan["tables"], exact):
            counts = noisy_counts(
                joint, ledger=ledger, rng=rng, secure=self.secure,
                label=f"table of {domain.names[x]!r} given {[domain.names[p] for p in ps]}", **kwargs,
            )
            conditionals.append(conditional_table(counts))
            bar.update(1)
        bar.close()
        self.network_ = [(domain.names[x], tuple(domain.names[p] for p in ps)) for x, ps in network]
        self.conditionals_ = conditionals

    # -- sampling ---------------------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        domain = self.domain_
        sizes = levels(domain, bins=self.bins)
        position = {name: j for j, name in enumerate(domain.names)}
        codes = np.zeros((n, len(domain)), dtype=np.int64, order="F")  # column writes stay contiguous
        for (name, parents), cond in zip(self.network_, self.conditionals_):
            cols = [position[p] for p in parents]
            pidx = joint_index(codes[:, cols], tuple(sizes[c] for c in cols))
            codes[:, position[name]] = sample_conditional(cond, pidx, rng) if n else codes[:, position[name]]
        return decode(codes, domain, bins=self.bins, rng=rng)

    # -- persistence --------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {"network": [[x, list(ps)] for x, ps in self.network_], "n_hat": int(self.n_hat_), "max_cells": float(self.max_cells_)}
        return state, {f"conditional_{j}": c for j, c in enumerate(self.conditionals_)}

    def _restore(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.network_ = [(str(x), tuple(ps)) for x, ps in state["network"]]
        self.n_hat_ = int(state["n_hat"])
        self.max_cells_ = float(state["max_cells"])
        self.conditionals_ = [np.asarray(arrays[f"conditional_{j}"], dtype=float) for j in range(len(self.network_))]
