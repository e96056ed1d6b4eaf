"""What a budget buys, before it is spent: the noise of each measurement and the error it alone causes.

From public inputs only -- the domain, epsilon, delta and a row count that is public (a published
table size) or DP (e.g. a fitted model's ``n_hat_``) -- :func:`forecast` reads a synthesizer's
plan (the same noise its fit will draw) and gives, per measured marginal, the noise scale and the
**noise TVD**: the expected total-variation distance between the marginal and its noisy
measurement, ``min(0.5 * cells * E|noise| / rows, 1 - 1/cells)`` with ``E|noise|`` =
``sigma sqrt(2/pi)`` (Gaussian) or the Laplace scale. From those it forecasts the release's 1-way
and 2-way error **due to noise** (``noise_tvd_1``, ``noise_tvd_2``): structure a model cannot
learn adds to it, estimation from several overlapping measurements removes some of it; and the
1-way error of a release of ``rows`` records (``tvd_1``: the noise and the sampling error of
drawing that many records, ``sampling_tvd_1``, combined). The 1-way noise forecast is scaled by a
factor per synthesizer calibrated on the benchmark
(``benchmarks/forecast_calibration.py``: the median ratio of the measured 1-way TVD, less its
sampling part, to the raw noise forecast over the eight benchmark tables at epsilon 0.3, 1 and 3).

A release is **noise-dominated** when the calibrated 1-way forecast reaches
:data:`NOISE_DOMINATED_TVD`: its column distributions are then off by more than a column-shuffled
copy of the data (whose 1-way TVD is 0) by that much, and a simpler method, fewer columns, coarser
bins or a larger epsilon does better. The marginal synthesizers warn after a fit
(:class:`NoiseDominatedWarning`, from their DP record count, so the warning is post-processing).

Example:
    >>> import privsynth as ps
    >>> _, domain = ps.datasets.make_census(10, random_state=0)
    >>> f = forecast("mst", domain, epsilon=1.0, rows=1000)
    >>> f.noise_dominated, round(f.noise_tvd_1, 3) > round(forecast("mst", domain, epsilon=1.0, rows=100_000).noise_tvd_1, 3)
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from privsynth.core.dataset import levels
from privsynth.core.domain import DEFAULT_BINS, Domain
from privsynth.privacy.accountants import get_accountant

__all__ = ["forecast", "Forecast", "MeasuredNoise", "NoiseDominatedWarning", "NOISE_DOMINATED_TVD", "CALIBRATION",
           "warn_if_noise_dominated"]

#: Calibrated 1-way noise TVD from which a release counts as noise-dominated.
NOISE_DOMINATED_TVD = 0.05
#: Measured / forecast 1-way TVD per synthesizer (``benchmarks/results/forecast_calibration.md``).
#: On the eight benchmark tables at epsilon 0.3, 1 and 3 the calibrated forecast ranks the measured 1-way TVD with
#: Spearman 0.98-0.99 and lands within 13-32% of it (median); estimation from overlapping measurements (AIM) and
#: the clipping of negative counts make the release better than its raw noise.
CALIBRATION = {"independent": 0.373, "dpgaussiancopula": 0.505, "privbayes": 0.601, "mst": 0.527, "aim": 0.258}
#: NeuralAIM makes AIM's measurements and takes AIM's factor (not recalibrated: on discretized Adult at epsilon 1 its
#: 1-way TVD, 0.0107, is below AIM's 0.0123, so the factor errs towards warning; benchmarks/results/neural_aim_adult.md).
CALIBRATION["neuralaim"] = CALIBRATION["aim"]


class NoiseDominatedWarning(UserWarning):
    """A fit whose release is forecast to be mostly noise (see :mod:`privsynth.synthesizers.forecast`)."""


@dataclass(frozen=True)
class MeasuredNoise:
    """One kind of measurement of a plan: how many, their order and cells, noise and noise TVD."""

    what: str
    count: int
    order: int
    cells: float
    noise: str
    scale: float
    noise_tvd: float


@dataclass(frozen=True)
class Forecast:
    """A synthesizer's forecast at a budget and a row count (see the module docstring)."""

    synthesizer: str
    epsilon: float
    delta: float
    rows: float
    measurements: tuple
    noise_tvd_1: float
    noise_tvd_2: float
    sampling_tvd_1: float
    tvd_1: float
    noise_dominated: bool
    advice: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["measurements"] = [asdict(m) for m in self.measurements]
        return out


def _tvd(cells: float, mean_abs_noise: float, rows: float) -> float:
    return float(min(0.5 * cells * mean_abs_noise / max(rows, 1.0), 1.0 - 1.0 / max(cells, 1.0)))


def _mean_abs(kwargs: dict[str, float]) -> tuple[str, float, float]:
    """(noise kind, scale, E|noise|) of a histogram's noise keywords."""
    if "noise_multiplier" in kwargs:
        sigma = float(kwargs["noise_multiplier"])
        return "gaussian", sigma, sigma * math.sqrt(2 / math.pi)
    scale = 1.0 / float(kwargs["epsilon"])
    return "laplace", scale, scale


def _one_way(what: str, sizes: Sequence[int], kwargs: Sequence[dict[str, float]], rows: float,
             aggregated: Sequence[float] | None = None) -> tuple[list[MeasuredNoise], list[float]]:
    """1-way measurements (``aggregated[j]``: noisy cells summed into each cell of column j)."""
    per_column = []
    for j, c in enumerate(sizes):
        kind, scale, mean_abs = _mean_abs(kwargs[j])
        per_column.append((kind, scale, _tvd(c, mean_abs * math.sqrt(aggregated[j] if aggregated else 1.0), rows)))
    kind, scale = per_column[0][0], float(np.mean([p[1] for p in per_column]))
    tvds = [p[2] for p in per_column]
    return [MeasuredNoise(what, len(sizes), 1, float(np.mean(sizes)), kind, scale, float(np.mean(tvds)))], tvds


def _pairs(sizes: Sequence[int]) -> list[tuple[int, int]]:
    return [(a, b) for a in range(len(sizes)) for b in range(a + 1, len(sizes))]


def _measurements(name: str, model: Any, domain: Domain, rows: float) -> tuple[list[MeasuredNoise], float, float]:
    """(measurements, noise TVD of the 1-way marginals, of the 2-way) for one marginal synthesizer."""
    accountant = get_accountant(getattr(model, "accountant", "rdp"))
    plan = model._plan(domain, accountant)
    sizes = levels(domain, bins=getattr(model, "bins", DEFAULT_BINS))
    pairs = _pairs(sizes)
    if name in ("independent", "dpgaussiancopula"):
        key = "noise" if name == "independent" else "marginals"
        out, tvd1 = _one_way("1-way marginals", sizes, plan[key], rows)
        two = [tvd1[a] + tvd1[b] - tvd1[a] * tvd1[b] for a, b in pairs]
        return out, float(np.mean(tvd1)), float(np.mean(two)) if two else float("nan")
    if name == "mst":
        ones = [{"noise_multiplier": plan["sigma_one"]}] * len(sizes)
        out, tvd1 = _one_way("1-way marginals", sizes, ones, rows)
        if not pairs:
            return out, float(np.mean(tvd1)), float("nan")
        sigma2 = plan["sigma_two"]
        two = [_tvd(sizes[a] * sizes[b], sigma2 * math.sqrt(2 / math.pi), rows) for a, b in pairs]
        out.append(MeasuredNoise("2-way marginals of the tree (d - 1; average over all pairs)", len(sizes) - 1, 2,
                                 float(np.mean([sizes[a] * sizes[b] for a, b in pairs])), "gaussian", sigma2, float(np.mean(two))))
        return out, float(np.mean(tvd1)), float(np.mean(two))
    if name in ("aim", "neuralaim"):
        sigma = math.sqrt(plan["rounds"] / (2 * 0.9 * plan["rho"]))
        out, tvd1 = _one_way("1-way marginals", sizes, [{"noise_multiplier": sigma}] * len(sizes), rows)
        two = [_tvd(sizes[a] * sizes[b], sigma * math.sqrt(2 / math.pi), rows) for a, b in pairs]
        if two:  # AIM measures a 2-way marginal only where that beats its 1-way estimate
            out.append(MeasuredNoise("a 2-way marginal in a first round (sigma halves as rounds anneal)", 1, 2,
                                     float(np.mean([sizes[a] * sizes[b] for a, b in pairs])), "gaussian", sigma, float(np.mean(two))))
            two = [min(t, tvd1[a] + tvd1[b]) for t, (a, b) in zip(two, pairs)]
        return out, float(np.mean(tvd1)), float(np.mean(two)) if two else float("nan")
    if name == "privbayes":
        kind, scale, mean_abs = _mean_abs(plan["tables"][0])
        max_cells = max(float(max(sizes)), rows / (model.theta * plan["noise_scale"]))
        cells = [min(max_cells, float(c * np.median(sizes) ** min(3, len(sizes) - 1))) for c in sizes]
        out, tvd1 = _one_way("conditional tables, read as 1-way marginals", sizes, list(plan["tables"]), rows,
                             aggregated=[cells[j] / sizes[j] for j in range(len(sizes))])
        two = [_tvd(min(cells[b], sizes[a] * sizes[b]), mean_abs * math.sqrt(max(cells[b] / (sizes[a] * sizes[b]), 1.0)), rows)
               for a, b in pairs]
        out.append(MeasuredNoise("conditional tables (one per column)", len(sizes), 2, float(np.mean(cells)), kind, scale,
                                 float(np.mean(two)) if two else float("nan")))
        return out, float(np.mean(tvd1)), float(np.mean(two)) if two else float("nan")
    raise ValueError(f"No analytic forecast for {name!r}: it trains a network with DP-SGD; forecasts cover "
                     f"{sorted(CALIBRATION)}.")


def forecast(synthesizer: Any, domain: Domain, *, rows: float, epsilon: float | None = None,
             delta: float | None = None) -> Forecast:
    """The noise a synthesizer's plan draws and the 1-/2-way error it alone causes at ``rows`` records.

    Args:
        synthesizer: A short name (``"mst"``) or a synthesizer instance (its parameters are used).
        domain: The public domain.
        rows: A public or DP row count (never the exact private count of a table you will release).
        epsilon, delta: Override the synthesizer's budget.

    Raises:
        ValueError: a DP-SGD synthesizer (no analytic forecast), or a bad row count.
    """
    from privsynth.synthesizers.names import short_name, synthesizer_class

    model = synthesizer_class(synthesizer)() if isinstance(synthesizer, str) else synthesizer
    name = short_name(model) or type(model).__name__
    if isinstance(rows, bool) or not isinstance(rows, (int, float)) or not rows >= 1:
        raise ValueError(f"rows must be a positive number (a public or DP row count), got {rows!r}.")
    updates = {k: v for k, v in (("epsilon", epsilon), ("delta", delta)) if v is not None}
    if updates:
        model = model.__class__(**{**model.get_params(), **updates})
    measurements, tvd1, tvd2 = _measurements(name, model, domain, float(rows))
    scaled = tvd1 * CALIBRATION.get(name, 1.0)
    sizes = levels(domain, bins=getattr(model, "bins", DEFAULT_BINS))
    # drawing `rows` records from exact marginals: E TVD <= 0.5 sqrt(2/pi) sqrt(cells / rows) per column
    sampling = float(np.mean([min(0.5 * math.sqrt(2 / math.pi) * math.sqrt(c / rows), 1 - 1 / c) for c in sizes]))
    dominated = scaled >= NOISE_DOMINATED_TVD
    simpler = {"aim": "MST or IndependentMarginals", "neuralaim": "MST or IndependentMarginals",
               "mst": "IndependentMarginals", "privbayes": "IndependentMarginals",
               "dpgaussiancopula": "IndependentMarginals"}.get(name)
    advice = (f"noise-dominated: the columns' distributions are forecast to be off by {scaled:.2g} TVD on average (a "
              "column-shuffled copy: 0). Raise epsilon, drop or merge columns, or declare coarser bins"
              + (f", or use a method with fewer measurements ({simpler})." if simpler else ".") if dominated else
              f"the noise alone is forecast to cost {scaled:.2g} 1-way TVD on average.")
    return Forecast(synthesizer=name, epsilon=float(model.epsilon), delta=float(getattr(model, "delta", 0.0)), rows=float(rows),
                    measurements=tuple(measurements), noise_tvd_1=float(scaled), noise_tvd_2=float(tvd2),
                    sampling_tvd_1=sampling, tvd_1=float(math.hypot(scaled, sampling)), noise_dominated=bool(dominated),
                    advice=advice)


def warn_if_noise_dominated(model: Any, domain: Domain) -> None:
    """After a fit: warn when the release is forecast noise-dominated at the model's DP record count.

    Only the marginal synthesizers have a forecast; the record count ``n_hat_`` is a DP output of
    the fit, so the warning is post-processing and says nothing more about the data.
    """
    import warnings

    from privsynth.synthesizers.names import short_name

    name = short_name(model)
    rows = getattr(model, "n_hat_", None)
    if name not in CALIBRATION or not rows or rows < 1:
        return
    result = forecast(model, domain, rows=float(rows))
    if result.noise_dominated:  # a function of the released model (its DP count, to 2 significant digits)
        about = f"{float(f'{rows:.2g}'):,.0f}"
        warnings.warn(NoiseDominatedWarning(f"{type(model).__name__} at epsilon {result.epsilon:g} on about {about} records "
                                            f"(its DP count): {result.advice} See privsynth.synthesizers.forecast."),
                      stacklevel=3)
