"""``MST``: maximum-spanning-tree marginals on a graphical model (McKenna, Miklau, Sheldon,
"Winning the NIST Contest: A scalable and general approach to differentially private synthetic
data", Journal of Privacy and Confidentiality 2021).

The zCDP budget ``rho`` (the largest the RDP accountant certifies at ``(epsilon, delta)``) is
spent in three equal parts, each through a mechanism on the ledger:

1. every 1-way marginal, discrete Gaussian noise (values whose noisy count is below
   ``3 sigma`` are then merged into one level per attribute: post-processing);
2. a spanning tree of attribute pairs, edge by edge, by the exponential mechanism on the L1
   error of each pair under the independent model fitted to step 1 (sensitivity 1: one record
   moves one cell of the pair's counts by one; the model is a DP output);
3. the 2-way marginal of every tree edge, discrete Gaussian noise.

A graphical model is estimated from the measurements (:mod:`privsynth.graphical`) and rows are
sampled from it i.i.d. -- all post-processing.
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
from privsynth.graphical import SAMPLERS, GraphicalModel, Measurement, estimate, sample_codes
from privsynth.graphical.backend import BACKENDS, get_backend
from privsynth.mechanisms.counts import noisy_counts
from privsynth.mechanisms.exponential import exponential
from privsynth.privacy.accountants import Accountant
from privsynth.privacy.events import ExponentialEvent, GaussianEvent
from privsynth.privacy.ledger import Ledger
from privsynth.synthesizers._marginals import Compression, model_from_state, model_summary, model_to_state
from privsynth.synthesizers._plan import FitPlan, zcdp_budget
from privsynth.synthesizers._public_domain import domain_prior
from privsynth.synthesizers.base import Synthesizer

__all__ = ["MST"]

#: Safety margin on the zCDP budget so rounding never lets the events compose past epsilon.
RHO_MARGIN = 1e-9


class MST(Synthesizer):
    """Maximum-spanning-tree synthesizer (MST, McKenna et al. 2021; NIST 2018 challenge winner).

    Args:
        epsilon: Privacy budget.
        delta: Its delta (``> 0``: the measurements are Gaussian).
        compress: Merge values with a noisy count below ``3 sigma`` into one level (the paper's
            domain compression).
        iterations: Mirror-descent steps of the estimation.
        bins: Bins for numeric columns whose domain declares none.
        accountant: ``"rdp"`` (the budget is split in zCDP units, which the RDP accountant
            composes exactly).
        random_state: Secret seed that makes the fit reproducible (research only; see
            :class:`~privsynth.core.rng.PrivateRandomness`). ``None``: fresh OS entropy.
        secure: Exact discrete samplers on the OS CSPRNG for every measurement and selection.
        backend: Where the estimation engine runs (post-processing only): ``"auto"`` (torch on a
            GPU when one is present, else numpy), ``"numpy"`` or ``"torch"`` (CUDA when
            available, else the CPU). Floating-point rounding differs between backends, so a
            seeded fit can differ slightly between a GPU and a CPU machine.
        sampler: ``"iid"`` (independent rows) or ``"stratified"`` (exchangeable rows with less
            Monte Carlo error; merged rare values are split i.i.d.), as for :class:`AIM`.
        progress: Show progress: a bar on a terminal, else a log line (logger
            ``privsynth.progress``, INFO) every 30 s; ``False``: none.

    Attributes:
        tree_: The selected attribute pairs (names), in selection order (DP output).
        model_: The estimated :class:`~privsynth.graphical.GraphicalModel` (compressed domain).
        marginals_: The model's 1-way marginals per column (DP: post-processing of every
            measurement), which sampled releases are checked against.
        n_hat_: The model's record count (post-processing of the measurements).

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(2000, random_state=0)
        >>> syn = MST(epsilon=1.0, random_state=0).fit(df, domain)
        >>> len(syn.tree_) == len(domain) - 1, syn.sample(5).shape
        (True, (5, 10))
    """

    assumptions = ("MST: all 1-way marginals, a spanning tree of 2-way marginals chosen by the exponential mechanism, "
                   "Gaussian measurements; the budget is split in zCDP units composed exactly by the RDP accountant",)

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float = 1e-9,
        compress: bool = True,
        iterations: int = 500,
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
        self.compress = compress
        self.iterations = iterations
        self.bins = bins
        self.accountant = accountant
        self.random_state = random_state
        self.secure = secure
        self.backend = backend
        self.sampler = sampler
        self.progress = progress

    def _check_params(self) -> None:
        super()._check_params()
        checks.number(self.delta, "delta", low=0, high=1, low_open=True, high_open=True, owner="MST")
        checks.flag(self.compress, "compress", owner="MST")
        checks.integer(self.iterations, "iterations", low=1, owner="MST")
        checks.choice(self.accountant, "accountant", ("rdp",), owner="MST")
        checks.choice(self.backend, "backend", BACKENDS, owner="MST")
        checks.choice(self.sampler, "sampler", SAMPLERS, owner="MST")

    # -- fitting ---------------------------------------------------------------------------
    def _plan(self, domain: Domain, accountant: Accountant) -> FitPlan:
        d = len(domain)
        rho = zcdp_budget(epsilon=self.epsilon, delta=self.delta, accountant=accountant, **domain_prior(domain)) * (1 - RHO_MARGIN)
        parts = (rho, 0.0, 0.0) if d == 1 else (rho / 3, rho / 3, rho / 3)
        sigma_one = math.sqrt(d / (2 * parts[0]))
        events: list = [GaussianEvent(noise_multiplier=sigma_one, discrete=True)] * d
        eps_select = sigma_two = None
        if d > 1:
            eps_select = math.sqrt(8 * parts[1] / (d - 1))
            sigma_two = math.sqrt((d - 1) / (2 * parts[2]))
            events += [ExponentialEvent(epsilon=eps_select)] * (d - 1)
            events += [GaussianEvent(noise_multiplier=sigma_two, discrete=True)] * (d - 1)
        return FitPlan(events=events, delta=self.delta,
                       settings={"sigma_one": sigma_one, "eps_select": eps_select, "sigma_two": sigma_two},
                       parameters={"rho": rho, "sigma_one": sigma_one, "eps_select": eps_select, "sigma_two": sigma_two})

    def _fit(self, data: Table, domain: Domain, *, ledger: Ledger, plan: FitPlan, randomness: PrivateRandomness,
             checkpoint_dir: Any = None) -> None:
        sizes = levels(domain, bins=self.bins)
        names, d = domain.names, len(domain)
        rng = randomness.generator("releases")
        engine = get_backend(self.backend)
        bar = progress(total=2 * d, desc="MST", unit="step", enabled=self.progress)
        sigma_one = plan["sigma_one"]
        noisy_one = []
        for j, counts in enumerate(data.marginals([(j,) for j in range(d)], bins=self.bins)):
            noisy_one.append(noisy_counts(counts, noise_multiplier=sigma_one, ledger=ledger, rng=rng, secure=self.secure,
                                          label=f"1-way marginal of {names[j]!r}").astype(float))
            bar.update(1)
        comp = Compression.from_noisy(noisy_one, threshold=3 * sigma_one) if self.compress else Compression.identity(sizes)
        csizes = comp.sizes
        measurements = [Measurement((j,), *comp.measurement(j, noisy_one[j], sigma_one)) for j in range(d)]
        tree: list[tuple[int, int]] = []
        if d > 1:
            independent = estimate(csizes, measurements, iterations=100, backend=engine).model
            pairs = list(itertools.combinations(range(d), 2))
            small = {p: comp.compress_counts(p, c) for p, c in zip(pairs, data.marginals(pairs, bins=self.bins))}  # one pass
            tree = self._select(small, csizes, independent, plan["eps_select"], ledger, rng, names)
            bar.update(1)
            for i, j in tree:
                y = noisy_counts(small[(i, j)], noise_multiplier=plan["sigma_two"], ledger=ledger, rng=rng, secure=self.secure,
                                 label=f"2-way marginal of {names[i]!r} x {names[j]!r}")
                measurements.append(Measurement((i, j), y.astype(float), plan["sigma_two"]))
                bar.update(1)
        fitted = estimate(csizes, measurements, iterations=int(self.iterations), backend=engine)
        bar.close()
        self.model_ = fitted.model
        self.compression_ = comp
        self.tree_ = [(names[i], names[j]) for i, j in tree]
        self.marginals_, self.n_hat_ = model_summary(fitted.model, comp)

    def _select(self, counts: Mapping[tuple[int, int], np.ndarray], sizes: tuple[int, ...], model: GraphicalModel, eps: float,
                ledger: Ledger, rng: np.random.Generator, names: tuple[str, ...]) -> list[tuple[int, int]]:
        """Kruskal's algorithm with each edge chosen by the exponential mechanism (``counts``: the
        exact 2-way marginals on the compressed domain)."""
        pairs = list(itertools.combinations(range(len(sizes)), 2))
        error = {p: float(np.abs(counts[p] - model.project(p)).sum()) for p in pairs}
        component = list(range(len(sizes)))

        def find(i: int) -> int:
            while component[i] != i:
                component[i] = component[component[i]]
                i = component[i]
            return i

        chosen: list[tuple[int, int]] = []
        for step in range(len(sizes) - 1):
            candidates = [p for p in pairs if find(p[0]) != find(p[1])]
            pick = candidates[exponential(np.array([error[p] for p in candidates]), sensitivity=1.0, epsilon=eps, ledger=ledger,
                                          rng=rng, secure=self.secure, label=f"spanning-tree edge {step + 1}")]
            component[find(pick[0])] = find(pick[1])
            chosen.append(pick)
        return chosen

    # -- sampling ---------------------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        codes = self.compression_.backward(sample_codes(self.model_, n, rng, sampler=self.sampler), rng)
        return decode(codes, self.domain_, bins=self.bins, rng=rng)

    # -- persistence --------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        model_state, model_arrays = model_to_state(self.model_)
        return {"model": model_state, "tree": [list(e) for e in self.tree_]}, {**model_arrays, **self.compression_.to_arrays()}

    def _restore(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.model_ = model_from_state(state["model"], arrays)
        self.compression_ = Compression.from_arrays(arrays, len(self.model_.sizes))
        self.tree_ = [(str(a), str(b)) for a, b in state["tree"]]
        self.marginals_, self.n_hat_ = model_summary(self.model_, self.compression_)
