"""``NeuralAIM``: AIM's select-measure rounds with a neural generator as the estimator (MargNet:
Chen, Gong, Wang, "Fitting a Neural Generator to Differentially Private Marginals",
arXiv 2511.13893).

The rounds, their selections and measurements, and so the privacy accounting, are exactly
:class:`~privsynth.synthesizers.AIM`'s (see its module): 1-way marginals, then marginals chosen
by the exponential mechanism on AIM's score and measured with Gaussian noise, the noise halved
when a measurement barely moved the model, until the budget is spent. What differs is what the
measurements are fitted with: a network that outputs a mixture of product distributions
(:mod:`privsynth.synthesizers._mixture`), trained on the noisy marginals by gradient steps
from where the previous round left off. Training is post-processing of the measurements -- no
DP-SGD, no extra charge.

What it buys: the graphical model's cost grows with its junction tree, which explodes when the
measured marginals chain many columns (AIM then has to refuse candidates that would grow the
model past ``max_model_size``); the mixture's cost grows only with the marginals' cells and its
components, so every candidate of the workload stays selectable, on wide tables too. What it
costs: the mixture is an approximation (a finite mixture, fitted by stochastic optimization),
where the graphical model is the exact maximum-entropy fit of the measurements.

Design choices, measured on discretized Adult at epsilon 1 (2-way TVD, seed 0 unless stated;
AIM: 0.044; this 2-core CPU, fit seconds with another job beside where marked *):

* **Start at independence.** Random output weights and biases (no start): 0.053 in 251 s*, 24
  rounds. Output bias at the log of the noisy 1-way marginals, weights scaled by 0.5: 0.0445.
  Rounds whose fit barely moves halve AIM's noise, so a fit that learns slowly also ends the
  rounds early.
* **A network, not free logits.** Free per-component logits (``hidden=()``, Adam 0.05): 0.048-0.050
  for 128 to 2048 components. The 256-256 MLP: 0.044-0.047 (3 seeds,
  ``benchmarks/results/neural_aim_adult.md``); 128-128: 0.048.
* **Steps per round.** 20: 0.054 / 0.049 / 0.054 (seeds 0-2) in 16-22 s, with 15-19 rounds
  instead of ~30 (under-fitted rounds trigger the noise halving); 50 (the default): 0.044-0.047.
* **Not fitting harder.** On AIM's own 38 measurements (seed 0), the graphical model gives 0.044;
  the mixture 0.050-0.054 after 300-3,000 Adam steps, and L-BFGS, which drives the mixture's loss
  below the graphical model's, makes it worse (0.051 -> 0.054): the extra freedom fits noise. The
  mixture fits the measured pairs worse (mean TVD 0.020 against 0.014) and the unmeasured ones a
  little better (0.064 against 0.068).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core import checks
from privsynth.core.dataset import decode, levels
from privsynth.core.domain import DEFAULT_BINS, Domain
from privsynth.core.rng import PrivateRandomness
from privsynth.graphical import Measurement
from privsynth.graphical.estimation import estimate_total
from privsynth.graphical.factor import Attrs, table_size
from privsynth.privacy.accountants import Accountant
from privsynth.synthesizers._mixture import MixtureEstimator, mixture_marginal, sample_mixture
from privsynth.synthesizers._plan import FitPlan
from privsynth.synthesizers.aim import AIM, candidate_weights
from privsynth.synthesizers.base import Synthesizer

__all__ = ["NeuralAIM"]

#: Largest marginal (in cells) a round may measure, by default: a marginal larger than this is
#: mostly noise at any budget AIM spends on one round.
MAX_MARGINAL_CELLS = 2**16


class NeuralAIM(AIM):
    """AIM's rounds with a neural mixture of product distributions as the estimator (MargNet-style).

    Args:
        epsilon, delta, workload, degree, rounds, bins, accountant, random_state, secure,
        progress: As for :class:`~privsynth.synthesizers.AIM` (the same plan, rounds and kinds
            of release; each selection scores the candidates against this model, so the marginals
            chosen differ from AIM's).
        components: Mixture components (the network's fixed random inputs). More components
            represent more dependence; sampling and training cost grow linearly with them.
        hidden: Hidden layer sizes of the network (``()``: every component's logits are free
            parameters, a relaxed synthetic data set as in RAP/GEM).
        learning_rate: Adam's learning rate.
        iterations: Adam steps after each round's measurement (warm-started).
        final_iterations: Adam steps once the budget is spent.
        max_marginal_cells: Largest marginal a round may measure, in cells. The model's size is
            not bounded by the selected marginals (there is no junction tree), so this bound is
            on the measurement alone; it is public.
        device: Where training runs: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...
            Sampling is numpy.

    Attributes:
        selected_: The marginals measured after the 1-way ones (column names), in order (DP output).
        tables_: Per column, the components' probabilities of its levels (post-processing).
        marginals_: The model's 1-way marginals per column, which releases are checked against.
        n_hat_: The model's record count (post-processing of the measurements).

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(2000, random_state=0)
        >>> syn = NeuralAIM(epsilon=1.0, degree=2, components=64, random_state=0, progress=False).fit(df, domain)
        >>> syn.sample(5).shape, syn.certificate_.spent.epsilon <= 1.0
        ((5, 10), True)
    """

    assumptions = (AIM.assumptions[0] + "; the measurements are fitted by a neural mixture of product distributions "
                   "(post-processing)",)

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float = 1e-9,
        workload: Sequence[Sequence[str]] | None = None,
        degree: int = 3,
        rounds: int | None = None,
        components: int = 512,
        hidden: Sequence[int] = (256, 256),
        learning_rate: float = 1e-3,
        iterations: int = 50,
        final_iterations: int = 300,
        max_marginal_cells: int = MAX_MARGINAL_CELLS,
        bins: int = DEFAULT_BINS,
        accountant: str = "rdp",
        random_state: Any = None,
        secure: bool = False,
        device: str = "auto",
        progress: bool | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.workload = workload
        self.degree = degree
        self.rounds = rounds
        self.components = components
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.iterations = iterations
        self.final_iterations = final_iterations
        self.max_marginal_cells = max_marginal_cells
        self.bins = bins
        self.accountant = accountant
        self.random_state = random_state
        self.secure = secure
        self.device = device
        self.progress = progress

    def _check_params(self) -> None:
        Synthesizer._check_params(self)
        owner = "NeuralAIM"
        self._check_selection_params(owner)
        checks.integer(self.components, "components", low=1, owner=owner)
        checks.integer(self.max_marginal_cells, "max_marginal_cells", low=1, owner=owner)
        checks.number(self.learning_rate, "learning_rate", low=0, low_open=True, owner=owner)
        if isinstance(self.hidden, (str, int)) or not all(isinstance(h, (int, np.integer)) and h >= 1 for h in self.hidden):
            raise ValueError(f"{owner}: hidden must be a sequence of positive layer sizes, e.g. (256, 256), or () for none; "
                             f"got {self.hidden!r}.")
        from privsynth.synthesizers._dpsgd_base import require_torch

        require_torch(owner)
        from privsynth.mechanisms.dpsgd import resolve_device

        resolve_device(self.device)

    def _plan(self, domain: Domain, accountant: Accountant) -> FitPlan:
        plan = super()._plan(domain, accountant)
        sizes = levels(domain, bins=self.bins)
        candidates = candidate_weights(plan["workload"])
        if not any(table_size(c, sizes) <= self.max_marginal_cells for c in candidates):
            raise ValueError(f"NeuralAIM: every marginal of the workload, and every subset of one, has more than "
                             f"max_marginal_cells={self.max_marginal_cells} cells, so no round could measure one; raise "
                             "max_marginal_cells or use fewer bins.")
        return plan

    # -- the estimator --------------------------------------------------------------------------
    def _estimator(self, sizes: tuple[int, ...], randomness: PrivateRandomness) -> Any:
        import torch

        from privsynth.mechanisms.dpsgd import resolve_device

        generator = torch.Generator().manual_seed(randomness.integer_seed("init"))
        net = MixtureEstimator(sizes, components=int(self.components), hidden=tuple(int(h) for h in self.hidden),
                               learning_rate=float(self.learning_rate), generator=generator, device=resolve_device(self.device))
        return _NeuralEstimate(net, int(self.iterations), int(self.final_iterations))

    def _cell_limit(self) -> float:
        return float(self.max_marginal_cells)

    @staticmethod
    def _allowed_cells(limit: float, spent_share: float) -> float:
        return limit  # no model to keep small: every candidate within the bound stays selectable

    def _keep(self, est: Any) -> None:
        self.tables_ = est.net.tables()
        self.total_ = float(est.net.total)
        self._summarize()

    def _summarize(self) -> None:
        self.marginals_ = [mixture_marginal(self.tables_, (j,), self.total_) for j in range(len(self.tables_))]
        self.n_hat_ = max(0, int(round(self.total_)))

    # -- sampling (numpy) ---------------------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        return decode(sample_mixture(self.tables_, n, rng), self.domain_, bins=self.bins, rng=rng)

    # -- persistence ----------------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {f"table_{j}": t for j, t in enumerate(self.tables_)}
        return {"total": self.total_, "selected": [list(r) for r in self.selected_]}, arrays

    def _restore(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        d = len(self.domain_)
        tables = [np.asarray(arrays[f"table_{j}"], dtype=float) for j in range(d)]
        widths = levels(self.domain_, bins=self.bins)
        if (len({t.shape[0] for t in tables}) != 1 or any(t.ndim != 2 or t.shape[1] != w for t, w in zip(tables, widths))
                or any(np.any(~(t >= 0)) or np.any(t.sum(axis=1) <= 0) for t in tables) or not float(state["total"]) >= 0):
            raise ValueError("NeuralAIM model file: the mixture tables must have one row per component and one column per level "
                             "of their column's domain, non-negative with some probability in every row, and a total >= 0.")
        self.tables_, self.total_ = tables, float(state["total"])
        self.selected_ = [tuple(str(c) for c in r) for r in state["selected"]]
        self._summarize()


class _NeuralEstimate:
    """The rounds' view of the mixture: refit after every measurement, marginals on demand."""

    def __init__(self, net: MixtureEstimator, iterations: int, final_iterations: int) -> None:
        self.net, self.iterations, self.final_iterations = net, iterations, final_iterations

    def update(self, measurements: Sequence[Measurement], *, final: bool = False) -> None:
        if not self.net.started:  # the first update has the 1-way measurements: start from their product
            one_way = {m.attrs[0]: m.values for m in measurements if len(m.attrs) == 1}
            self.net.start_at([one_way[j] for j in range(len(self.net.sizes))])
        self.net.train(measurements, total=estimate_total(measurements),
                       iterations=self.final_iterations if final else self.iterations)

    def project(self, attrs: Attrs) -> np.ndarray:
        return self.net.project(attrs)

    def project_many(self, many: Sequence[Attrs]) -> list[np.ndarray]:
        return self.net.project_many(many)

    def fits(self, allowed_cells: float, measured: Sequence[Attrs], pool: Sequence[Attrs]) -> Callable[[int], bool] | None:
        return None  # every candidate fits: the pool is already bounded by its own cells
