"""Fit a graphical model to noisy marginal measurements (Private-PGM: McKenna, Sheldon, Miklau,
"Graphical-model based estimation and inference for differential privacy", ICML 2019).

The estimate minimizes ``sum_i ||(mu_{S_i} - y_i) / sigma_i||^2 / 2`` over the marginals ``mu``
of one distribution (scaled to the estimated record count) by entropic mirror descent: the
natural parameters live on the measured attribute sets, every step is a gradient step on them,
and belief propagation on the junction tree maps them back to marginals. The solution is the
maximum-entropy distribution whose measured marginals best fit the measurements. Warm starts
(AIM adds one measurement per round) keep the previous parameters.

Post-processing only: it sees noisy measurements and public sizes, never data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from privsynth.graphical.backend import Backend, get_backend
from privsynth.graphical.factor import Attrs, expand, normalize_attrs, sum_to, table_size
from privsynth.graphical.inference import belief_propagation
from privsynth.graphical.junction_tree import JunctionTree
from privsynth.graphical.model import GraphicalModel

__all__ = ["Measurement", "Estimate", "estimate", "estimate_total"]

#: Step-size growth per mirror-descent step (then halved while the Armijo test fails).
_GROWTH = 1.25


@dataclass(frozen=True, eq=False)
class Measurement:
    """A noisy marginal: ``values ≈ counts over attrs + noise`` with standard deviation ``sigma``
    (a number, or one per cell).

    Example:
        >>> Measurement((0,), np.array([10.0, 5.0]), sigma=2.0).attrs
        (0,)
    """

    attrs: Attrs
    values: np.ndarray
    sigma: float | np.ndarray

    def __post_init__(self) -> None:
        if tuple(self.attrs) != normalize_attrs(self.attrs):
            raise ValueError(f"measurement attributes must be sorted and distinct, got {self.attrs}.")
        object.__setattr__(self, "attrs", tuple(int(a) for a in self.attrs))
        object.__setattr__(self, "values", np.asarray(self.values, dtype=float))
        sigma = np.asarray(self.sigma, dtype=float)
        if np.any(~(sigma > 0)):
            raise ValueError("sigma must be positive.")
        object.__setattr__(self, "sigma", sigma if sigma.ndim else float(sigma))


@dataclass
class Estimate:
    """A fitted model with the natural parameters that produced it (for warm starts)."""

    model: GraphicalModel
    parameters: dict[Attrs, np.ndarray] = field(default_factory=dict)
    loss: float = float("nan")
    iterations: int = 0
    #: The last accepted mirror-descent step size, times the record count (a warm start begins there).
    step: float = float("nan")


def estimate_total(measurements: Sequence[Measurement]) -> float:
    """Record count estimated from the measurements' sums, each weighted by the inverse of its
    variance (at least 1).

    Example:
        >>> estimate_total([Measurement((0,), np.array([60.0, 40.0]), sigma=1.0)])
        100.0
    """
    if not measurements:
        raise ValueError("need at least one measurement to estimate the record count.")
    sums, weights = [], []
    for m in measurements:
        variance = float(np.sum(np.broadcast_to(np.asarray(m.sigma) ** 2, m.values.shape)))
        sums.append(float(m.values.sum()))
        weights.append(1.0 / variance)
    return max(1.0, float(np.average(sums, weights=weights)))


def _check(sizes: Sequence[int], m: Measurement) -> None:
    shape = tuple(sizes[a] for a in m.attrs)
    if m.values.shape != shape:
        raise ValueError(f"measurement over {m.attrs} has shape {m.values.shape}, expected {shape}.")


def estimate(
    sizes: Sequence[int],
    measurements: Sequence[Measurement],
    *,
    iterations: int = 500,
    warm_start: Estimate | None = None,
    total: float | None = None,
    tree: JunctionTree | None = None,
    callback: Callable[[int, float], None] | None = None,
    backend: str | Backend = "numpy",
) -> Estimate:
    """Fit a graphical model to ``measurements`` by mirror descent with a backtracking step.

    Args:
        sizes: Levels per attribute (public domain).
        measurements: Noisy marginals.
        iterations: Mirror-descent steps.
        warm_start: A previous :class:`Estimate` whose parameters start this one.
        total: The record count the model sums to (default: :func:`estimate_total`).
        tree: A junction tree covering the measured sets (default: built from them).
        callback: Called as ``callback(iteration, loss)``.
        backend: Where belief propagation and the steps run: ``"numpy"``, ``"torch"`` (CUDA when
            available, else the CPU), ``"auto"`` (torch on a GPU when one is present, else numpy)
            or a :class:`~privsynth.graphical.backend.Backend`. Inputs and the returned estimate
            are numpy either way.

    Returns:
        The :class:`Estimate`.

    Example:
        >>> y = Measurement((0, 1), np.array([[30.0, 10.0], [10.0, 50.0]]), sigma=1.0)
        >>> fit = estimate((2, 2), [y], iterations=200)
        >>> fit.model.project((0, 1)).round(1)
        array([[30., 10.],
               [10., 50.]])
    """
    sizes = tuple(int(s) for s in sizes)
    for m in measurements:
        _check(sizes, m)
    total = estimate_total(measurements) if total is None else float(total)
    sets = sorted({m.attrs for m in measurements})
    tree = tree or JunctionTree.build(sizes, sets)
    home = {s: tree.containing(s) for s in sets}
    if any(h is None for h in home.values()):
        raise ValueError("the junction tree does not cover every measured set.")
    xp = get_backend(backend)
    old = warm_start.parameters if warm_start is not None else {}
    theta = {s: xp.asarray(old[s]) if s in old else xp.zeros(tuple(sizes[a] for a in s)) for s in sets}
    # each measured set's measurements as (values, sigma) on the backend
    by_set: dict[Attrs, list[tuple[Any, Any]]] = {s: [] for s in sets}
    for m in measurements:
        by_set[m.attrs].append((xp.asarray(m.values), m.sigma if isinstance(m.sigma, float) else xp.asarray(m.sigma)))

    def marginals(params: dict[Attrs, Any]) -> list[Any]:
        potentials = [xp.zeros(tuple(sizes[a] for a in c)) for c in tree.cliques]
        for s, p in params.items():
            potentials[home[s]] += expand(p, s, tree.cliques[home[s]])  # type: ignore[index]
        return belief_propagation(tree, potentials, total, backend=xp)

    # Each measured set's marginal is summed from the smallest table that holds it: its clique's belief,
    # or a larger measured set's marginal (a 1-way from a 3-way's few cells instead of a clique's many).
    source: dict[Attrs, Attrs | None] = {}
    for s in sorted(sets, key=lambda s: -table_size(s, sizes)):
        held = [t for t in source if set(s) < set(t)]
        best = min(held, key=lambda t: table_size(t, sizes), default=None)
        clique_cells = table_size(tree.cliques[home[s]], sizes)  # type: ignore[index]
        source[s] = best if best is not None and table_size(best, sizes) < clique_cells else None

    def loss_and_gradient(beliefs: list[Any]) -> tuple[float, dict[Attrs, Any], dict[Attrs, Any]]:
        loss, grads = 0.0, {}
        mus: dict[Attrs, Any] = {}
        for s, held_by in source.items():  # larger sets first
            if held_by is None:
                mu = sum_to(beliefs[home[s]], tree.cliques[home[s]], s)  # type: ignore[index]
            else:
                mu = sum_to(mus[held_by], held_by, s)
            g = 0.0
            for values, sigma in by_set[s]:
                r = (mu - values) / sigma
                loss += 0.5 * float((r * r).sum())
                g = g + r / sigma
            grads[s], mus[s] = g, mu
        return loss, grads, mus

    beliefs = marginals(theta)
    loss, grad, mu = loss_and_gradient(beliefs)
    scale = max(total, 1.0)
    warm_step = warm_start.step if warm_start is not None else float("nan")
    alpha = (warm_step if np.isfinite(warm_step) else 1.0) / scale
    accepted = alpha
    growth = 2.0  # double until the first backtrack finds the step's scale, then grow gently
    done = 0
    for done in range(1, int(iterations) + 1):
        # Grow the step and halve it while the Armijo test fails: about 1.2-1.4 belief
        # propagations per step once the step is near its limit (doubling every step cost ~1.9).
        alpha *= growth
        for _ in range(30):
            trial = {s: theta[s] - alpha * grad[s] for s in sets}
            new_beliefs = marginals(trial)
            new_loss, new_grad, new_mu = loss_and_gradient(new_beliefs)
            decrease = sum(float((grad[s] * (mu[s] - new_mu[s])).sum()) for s in sets)
            if loss - new_loss >= 0.5 * decrease:
                break
            alpha *= 0.5
            growth = _GROWTH
        else:
            break  # no step decreases the loss: converged to machine precision
        accepted = alpha
        theta, beliefs, loss, grad, mu = trial, new_beliefs, new_loss, new_grad, new_mu
        if callback is not None:
            callback(done, loss)
    model = GraphicalModel(tree, [xp.to_numpy(b) for b in beliefs], total=total)
    parameters = {s: xp.to_numpy(p) for s, p in theta.items()}
    return Estimate(model=model, parameters=parameters, loss=loss, iterations=done, step=accepted * scale)

