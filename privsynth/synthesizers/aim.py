"""``AIM``: adaptive, iterative marginal selection on a graphical model (McKenna, Mullins,
Sheldon, Miklau, "AIM: An Adaptive and Iterative Mechanism for Differentially Private Synthetic
Data", VLDB 2022).

The workload is a set of marginals the release should preserve (default: every 2- and 3-way
marginal). AIM measures all 1-way marginals, then in rounds: picks the candidate marginal (a
subset of a workload marginal) the current model gets most wrong, by the exponential mechanism
on the paper's score ``w_r (||M_r(D) - M_r(model)||_1 - sqrt(2/pi) sigma |r|)`` (sensitivity
``max w_r``) among candidates that keep the model under a size limit growing with the budget
spent; measures it with Gaussian noise; re-estimates the model (warm start); and halves the
noise when the measurement barely moved the model. It stops when the budget is spent. Whether a
candidate keeps the model under the limit (a junction tree built per candidate) is asked lazily,
in order of noisy score, which selects exactly as the exponential mechanism over the candidates
that fit (Gumbel-max), so the check runs on a few candidates per round instead of all. How many
checks a round makes (so its time) then depends on the noisy scores; with ``secure=True`` every
candidate is checked, as before, and the time of a selection no longer does.

Accounting: the plan is an envelope (see :mod:`privsynth.synthesizers._plan`), one Gaussian
event with the zCDP ``rho`` the RDP accountant certifies at ``(epsilon, delta)``. Every
selection and measurement is charged to the ledger as its own event before it runs, and each
round is sized from what the ledger's entries for this fit have spent, so the fit never spends
more than the envelope and the certificate lists every call.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core import checks
from privsynth.core.dataset import decode, levels
from privsynth.core.domain import DEFAULT_BINS, Domain
from privsynth.core.progress import progress
from privsynth.core.rng import PrivateRandomness
from privsynth.data.table import Table
from privsynth.graphical import SAMPLERS, GraphicalModel, JunctionTree, Measurement, estimate, sample_codes
from privsynth.graphical.backend import BACKENDS, get_backend
from privsynth.graphical.factor import Attrs, table_size
from privsynth.mechanisms.counts import noisy_counts
from privsynth.mechanisms.exponential import exponential
from privsynth.privacy.accountants import Accountant
from privsynth.privacy.events import GaussianEvent
from privsynth.privacy.ledger import Ledger
from privsynth.synthesizers._marginals import Compression, model_from_state, model_summary, model_to_state
from privsynth.synthesizers._plan import FitPlan, zcdp_budget, zcdp_rho
from privsynth.synthesizers._public_domain import domain_prior
from privsynth.synthesizers.base import Synthesizer
from privsynth.synthesizers.mst import RHO_MARGIN

__all__ = ["AIM", "candidate_weights"]

_BYTES_PER_CELL = 8
#: Default bound on the model in cells (2 MB of float64): keeps a fit on millions of records predictable.
MAX_MODEL_CELLS = 2**18
_MB = 2**20


def candidate_weights(workload: Sequence[Attrs]) -> dict[Attrs, float]:
    """Every non-empty subset ``r`` of a workload marginal, weighted ``sum_s |r ∩ s|`` (paper, Sec. 4).

    Example:
        >>> candidate_weights([(0, 1)])
        {(0,): 1.0, (1,): 1.0, (0, 1): 2.0}
    """
    closure = sorted({sub for s in workload for k in range(1, len(s) + 1) for sub in itertools.combinations(s, k)},
                     key=lambda r: (len(r), r))
    holding: dict[int, int] = {}  # sum_s |r ∩ s| = sum over a in r of the workload marginals holding a
    for s in workload:
        for a in set(s):
            holding[a] = holding.get(a, 0) + 1
    return {r: float(sum(holding[a] for a in r)) for r in closure}


class AIM(Synthesizer):
    """Adaptive and iterative marginal selection (AIM, McKenna et al. VLDB 2022).

    Args:
        epsilon: Privacy budget.
        delta: Its delta (``> 0``: the measurements are Gaussian).
        workload: Marginals to preserve, as tuples of column names; default every set of 2 to
            ``degree`` columns.
        degree: Largest marginal of the default workload.
        rounds: The paper's ``T``, which sizes the first rounds (default ``16 * columns``); the
            fit stops when the budget is spent, usually well before. Values below the number of
            columns are raised to it (the 1-way measurements, ``0.9 rho / T`` each, would
            otherwise cost more than the budget); the certificate states the value used.
        max_model_size: Largest model (junction-tree tables) in megabytes of float64 (the
            paper's bound, 80 MB: 10.5M cells).
        max_model_cells: Largest model in cells (``None``: only ``max_model_size`` bounds it).
            The fit's time follows the model's size, and with more records AIM picks larger
            marginals (their error grows with the rows, their noise does not): at 1M records
            and the 80 MB bound alone it chose a 5.0M-cell model and took 19 minutes and 15 GB
            (2-way TVD 0.023, against 0.027 in 37 s with the default cell bound). A cell bound
            keeps the fit predictable whatever the rows; it is a public parameter, so the rounds
            still depend on DP outputs only. See ``benchmarks/results/aim_bounded.md`` and
            ``aim_scale_80mb.md`` for the time and fidelity it costs.
        iterations: Mirror-descent steps of each round's warm-started estimation.
        final_iterations: Steps of the final estimation.
        bins: Bins for numeric columns whose domain declares none.
        accountant: ``"rdp"`` (the rounds are sized in zCDP units, which it composes exactly).
        random_state: Secret seed that makes the fit reproducible (research only; see
            :class:`~privsynth.core.rng.PrivateRandomness`). ``None``: fresh OS entropy.
        secure: Exact discrete samplers on the OS CSPRNG for every measurement and selection.
        backend: Where the estimation engine runs (post-processing only): ``"auto"`` (torch on a
            GPU when one is present, else numpy), ``"numpy"`` or ``"torch"`` (CUDA when
            available, else the CPU). Floating-point rounding differs between backends, so a
            seeded fit can differ slightly between a GPU and a CPU machine.
        sampler: How ``sample`` draws rows from the model (post-processing only): ``"iid"``
            (independent rows) or ``"stratified"`` (exchangeable rows; the root clique's counts,
            and every other clique's counts given its separator's, are within one of their
            expected counts: less Monte Carlo error, but rows are not
            independent, which matters for variance estimates computed on the release; see
            :mod:`privsynth.graphical.sampling`). Can be changed on a fitted model with
            ``set_params`` and takes effect at the next ``sample``.
        progress: Show progress: a bar on a terminal, else a log line (logger
            ``privsynth.progress``, INFO) every 30 s; ``False``: none. It shows the share of the
            budget spent.

    Attributes:
        selected_: The marginals measured after the 1-way ones (column names), in order (DP output).
        model_: The estimated :class:`~privsynth.graphical.GraphicalModel`.
        marginals_: The model's 1-way marginals per column (DP: post-processing of every
            measurement), which sampled releases are checked against.
        n_hat_: The model's record count (post-processing of the measurements).

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(2000, random_state=0)
        >>> syn = AIM(epsilon=1.0, degree=2, random_state=0).fit(df, domain)
        >>> syn.sample(5).shape, syn.certificate_.spent.epsilon <= 1.0
        ((5, 10), True)
    """

    assumptions = ("AIM: 1-way marginals, then marginals chosen by the exponential mechanism round by round, Gaussian "
                   "measurements; rounds sized in zCDP units, composed exactly by the RDP accountant",)

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float = 1e-9,
        workload: Sequence[Sequence[str]] | None = None,
        degree: int = 3,
        rounds: int | None = None,
        max_model_size: float = 80.0,
        max_model_cells: int | None = MAX_MODEL_CELLS,
        iterations: int = 100,
        final_iterations: int = 1000,
        bins: int = DEFAULT_BINS,
        accountant: str = "rdp",
        random_state: Any = None,
        secure: bool = False,
        backend: str = "auto",
        sampler: str = "iid",
        progress: bool | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.workload = workload
        self.degree = degree
        self.rounds = rounds
        self.max_model_size = max_model_size
        self.max_model_cells = max_model_cells
        self.iterations = iterations
        self.final_iterations = final_iterations
        self.bins = bins
        self.accountant = accountant
        self.random_state = random_state
        self.secure = secure
        self.backend = backend
        self.sampler = sampler
        self.progress = progress

    def _check_params(self) -> None:
        super()._check_params()
        owner = "AIM"
        self._check_selection_params(owner)
        checks.number(self.max_model_size, "max_model_size", low=0, low_open=True, owner=owner)
        if self.max_model_cells is not None:
            checks.integer(self.max_model_cells, "max_model_cells", low=1, owner=owner)
        checks.choice(self.backend, "backend", BACKENDS, owner=owner)
        checks.choice(self.sampler, "sampler", SAMPLERS, owner=owner)

    def _check_selection_params(self, owner: str) -> None:
        """The parameters of the select-measure rounds (shared with NeuralAIM)."""
        checks.number(self.delta, "delta", low=0, high=1, low_open=True, high_open=True, owner=owner)
        checks.integer(self.degree, "degree", low=1, owner=owner)
        if self.rounds is not None:
            checks.integer(self.rounds, "rounds", low=1, owner=owner)
        checks.integer(self.iterations, "iterations", low=1, owner=owner)
        checks.integer(self.final_iterations, "final_iterations", low=1, owner=owner)
        checks.choice(self.accountant, "accountant", ("rdp",), owner=owner)
        if self.workload is not None and (isinstance(self.workload, str) or not all(
                not isinstance(w, str) and len(w) >= 1 for w in self.workload)):
            raise ValueError(f"{owner}: workload must be a list of tuples of column names, e.g. [('age', 'sex'), ...].")

    def _workload(self, domain: Domain) -> list[Attrs]:
        position = {name: j for j, name in enumerate(domain.names)}
        if self.workload is None:
            d = len(domain)
            top = min(int(self.degree), d)
            sets = [c for k in range(min(2, top), top + 1) for c in itertools.combinations(range(d), k)]
            return sets or [(j,) for j in range(d)]
        unknown = sorted({c for w in self.workload for c in w if c not in position})
        if unknown:
            raise ValueError(f"{type(self).__name__}: workload names columns that are not in the domain: {unknown}.")
        return sorted({tuple(sorted(position[c] for c in w)) for w in self.workload})

    # -- fitting ---------------------------------------------------------------------------
    def _plan(self, domain: Domain, accountant: Accountant) -> FitPlan:
        full = zcdp_budget(epsilon=self.epsilon, delta=self.delta, accountant=accountant, **domain_prior(domain))
        workload = self._workload(domain)  # unknown columns fail before anything is charged
        envelope = GaussianEvent(noise_multiplier=math.sqrt(1.0 / (2.0 * full)))
        rho = full * (1 - RHO_MARGIN)
        # The 1-way measurements take 0.9 rho / rounds each: with fewer rounds than columns they would take more than
        # the budget, so the rounds that size them are at least the columns (the paper's default 16 d always is).
        rounds = max(int(self.rounds) if self.rounds is not None else 16 * len(domain), len(domain))
        return FitPlan(events=(envelope,), delta=self.delta, adaptive=True, settings={"rho": rho, "workload": workload, "rounds": rounds},
                       parameters={"rho": rho, "rounds": rounds})

    def _fit(self, data: Table, domain: Domain, *, ledger: Ledger, plan: FitPlan, randomness: PrivateRandomness,
             checkpoint_dir: Any = None) -> None:
        sizes = levels(domain, bins=self.bins)
        names, d = domain.names, len(domain)
        rng = randomness.generator("releases")
        rho = plan["rho"]
        start = len(ledger.entries)

        def spent() -> float:  # zCDP spent by this fit, read off the ledger
            return sum(zcdp_rho(e.event) for e in ledger.entries[start:])

        rounds = plan["rounds"]
        sigma = math.sqrt(rounds / (2 * 0.9 * rho))
        eps = math.sqrt(8 * 0.1 * rho / rounds)
        weights = candidate_weights(plan["workload"])
        answers: dict[Attrs, np.ndarray] = dict(zip(((j,) for j in range(d)), data.marginals([(j,) for j in range(d)], bins=self.bins)))

        def answer_all(pool: Sequence[Attrs]) -> None:  # the exact marginals of a round's candidates, in one pass
            new = [r for r in pool if r not in answers]
            answers.update(zip(new, data.marginals(new, bins=self.bins)) if new else ())

        bar = progress(total=100, desc="AIM", unit="% budget", enabled=self.progress)
        measurements = []
        for j in range(d):
            y = noisy_counts(answers[(j,)], noise_multiplier=sigma, ledger=ledger, rng=rng, secure=self.secure,
                             label=f"1-way marginal of {names[j]!r}").astype(float)
            measurements.append(Measurement((j,), y, sigma))
        est = self._estimator(sizes, randomness)
        est.update(measurements)
        selected: list[Attrs] = []
        limit_cells = self._cell_limit()
        while True:
            remaining = rho - spent()
            if remaining <= rho * 1e-6:
                break
            final = remaining < 2 * (1 / (2 * sigma**2) + eps**2 / 8)
            if final:
                sigma, eps = math.sqrt(1 / (2 * 0.9 * remaining)), math.sqrt(8 * 0.1 * remaining)
            cost = 1 / (2 * sigma**2) + eps**2 / 8
            allowed = self._allowed_cells(limit_cells, (rho - remaining + cost) / rho)
            pool = [c for c in weights if table_size(c, sizes) <= allowed]
            if not pool:  # no candidate fits the (public) size bound: nothing more to measure
                break
            bias = math.sqrt(2 / math.pi) * sigma
            answer_all(pool)
            scores = np.array([weights[r] * (float(np.abs(answers[r] - fitted).sum()) - bias * table_size(r, sizes))
                               for r, fitted in zip(pool, est.project_many(pool))])
            r = pool[exponential(scores, sensitivity=max(weights[c] for c in pool), epsilon=eps, ledger=ledger, rng=rng,
                                 secure=self.secure, feasible=est.fits(allowed, [m.attrs for m in measurements], pool),
                                 label=f"{type(self).__name__} round {len(selected) + 1}: choose a marginal")]
            y = noisy_counts(answers[r], noise_multiplier=sigma, ledger=ledger, rng=rng, secure=self.secure,
                             label=f"marginal of {[names[a] for a in r]}").astype(float)
            measurements.append(Measurement(r, y, sigma))
            selected.append(r)
            before = est.project(r)
            est.update(measurements)
            if float(np.abs(est.project(r) - before).sum()) <= bias * table_size(r, sizes):
                sigma, eps = sigma / 2, eps * 2
            bar.n = min(100, int(100 * spent() / rho))
            bar.refresh()
            if final:
                break
        bar.close()
        est.update(measurements, final=True)
        self.selected_ = [tuple(names[a] for a in r) for r in selected]
        self._keep(est)

    # -- the estimator (NeuralAIM swaps it) ---------------------------------------------------
    def _estimator(self, sizes: tuple[int, ...], randomness: PrivateRandomness) -> Any:
        """The estimator the rounds refine: ``update(measurements, final=)``, ``project(attrs)``, ``fits(...)``."""
        return _GraphicalEstimate(sizes, get_backend(self.backend), int(self.iterations), int(self.final_iterations))

    def _cell_limit(self) -> float:
        limit = float(self.max_model_size) * _MB / _BYTES_PER_CELL
        return limit if self.max_model_cells is None else min(limit, float(self.max_model_cells))

    @staticmethod
    def _allowed_cells(limit: float, spent_share: float) -> float:
        """A round's bound on the model's size: the paper's, growing with the share of the budget spent."""
        return limit * spent_share

    def _keep(self, est: Any) -> None:
        self.model_ = est.fit.model
        self.marginals_, self.n_hat_ = model_summary(self.model_, Compression.identity(self.model_.sizes))

    # -- sampling ---------------------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        return decode(sample_codes(self.model_, n, rng, sampler=self.sampler), self.domain_, bins=self.bins, rng=rng)

    # -- persistence --------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        model_state, model_arrays = model_to_state(self.model_)
        return {"model": model_state, "selected": [list(r) for r in self.selected_]}, model_arrays

    def _restore(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.model_ = model_from_state(state["model"], arrays)
        self.selected_ = [tuple(str(c) for c in r) for r in state["selected"]]
        self.marginals_, self.n_hat_ = model_summary(self.model_, Compression.identity(self.model_.sizes))


class _GraphicalEstimate:
    """AIM's estimator: a graphical model, warm-started round by round (Private-PGM)."""

    def __init__(self, sizes: tuple[int, ...], engine: Any, iterations: int, final_iterations: int) -> None:
        self.sizes, self.engine = sizes, engine
        self.iterations, self.final_iterations = iterations, final_iterations
        self.fit: Any = None

    def update(self, measurements: Sequence[Measurement], *, final: bool = False) -> None:
        if self.fit is None:
            self.fit = estimate(self.sizes, measurements, iterations=self.iterations, backend=self.engine)
        elif final:
            self.fit = estimate(self.sizes, measurements, iterations=self.final_iterations, warm_start=self.fit, backend=self.engine)
        else:
            self.fit = estimate(self.sizes, measurements, iterations=self.iterations, warm_start=self.fit,
                                total=self.fit.model.total, backend=self.engine)

    def project(self, attrs: Attrs) -> np.ndarray:
        return self.fit.model.project(attrs)

    def project_many(self, many: Sequence[Attrs]) -> Iterator[np.ndarray]:
        """The model's marginals over ``many``, one at a time: a round scores each and drops it, so
        they are never all held at once."""
        return (self.fit.model.project(r) for r in many)

    def fits(self, allowed_cells: float, measured: Sequence[Attrs], pool: Sequence[Attrs]) -> Callable[[int], bool]:
        """Whether candidate ``pool[i]`` lies inside a model clique (free) or keeps the model within
        ``allowed_cells`` once added: asked lazily, for the few candidates the selection reaches."""
        model: GraphicalModel = self.fit.model
        cliques = [set(c) for c in model.tree.cliques]

        def fits(i: int) -> bool:
            r = pool[i]
            return any(set(r) <= c for c in cliques) or JunctionTree.build(model.sizes, [*measured, r]).size <= allowed_cells

        return fits
