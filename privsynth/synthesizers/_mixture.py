"""The neural estimator of :class:`~privsynth.synthesizers.NeuralAIM`: a network fitted to noisy
marginals (MargNet: Chen, Gong, Wang, arXiv 2511.13893).

The model is a mixture of ``components`` product distributions: a fixed random input per
component goes through a small network whose outputs are, per column, the component's
probabilities of each level. Any marginal of the mixture is the average over components of
the outer product of their column probabilities -- a matrix product over the components, with
no junction tree, so its cost grows with the marginal's cells and the components, never with a model's
cliques. Training minimizes the same objective as the graphical model's estimation, the squared
error of the model's marginal counts against every noisy measurement divided by its standard
deviation, with Adam from where the previous round left off.

Post-processing only: it sees noisy measurements and public sizes, never data. Training needs
torch; a fitted mixture is a list of numpy tables (one per column, ``components x levels``) and
sampling is numpy only (:func:`sample_mixture`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from privsynth.graphical import Measurement
from privsynth.graphical.factor import Attrs

if TYPE_CHECKING:
    import torch

__all__ = ["MixtureEstimator", "mixture_marginal", "mixture_marginals", "sample_mixture"]


def mixture_marginal(tables: Sequence[np.ndarray], attrs: Attrs, total: float) -> np.ndarray:
    """The mixture's marginal counts over ``attrs`` (axes in the order given).

    Example:
        >>> t = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.5, 0.5], [0.0, 1.0]])]
        >>> mixture_marginal(t, (0, 1), total=4.0).tolist()
        [[1.0, 1.0], [0.0, 2.0]]
    """
    if not attrs:
        return np.asarray(float(total))
    return mixture_marginals(tables, [tuple(attrs)], total)[0]


def _contraction_order(attrs: Attrs, sizes: Sequence[int]) -> tuple[Attrs, tuple[int, ...]]:
    """The attributes with the largest last (it goes into the matrix product, the others into
    the components' outer product, whose size this keeps smallest), and the axes that put the
    result back in the order given."""
    order = tuple(sorted(attrs, key=lambda a: (sizes[a], a)))
    return order, tuple(order.index(a) for a in attrs)


def mixture_marginals(tables: Sequence[np.ndarray], many: Sequence[Attrs], total: float) -> list[np.ndarray]:
    """:func:`mixture_marginal` of every set in ``many``: the sets that share all but their largest
    attribute are answered by one matrix product (the largest attributes' tables side by side).

    Example:
        >>> t = [np.array([[1.0, 0.0], [0.0, 1.0]])] * 3
        >>> [float(m.sum()) for m in mixture_marginals(t, [(0, 1), (0, 2), (1,)], total=4.0)]
        [4.0, 4.0, 4.0]
    """
    out: dict[Attrs, np.ndarray] = {}
    sizes = [t.shape[1] for t in tables]
    by_prefix: dict[Attrs, list[tuple[Attrs, Attrs, tuple[int, ...]]]] = {}
    for attrs in map(tuple, many):
        if len(attrs) < 2:
            out[attrs] = tables[attrs[0]].sum(axis=0) * (float(total) / len(tables[attrs[0]]))
            continue
        order, axes = _contraction_order(attrs, sizes)
        by_prefix.setdefault(order[:-1], []).append((attrs, order, axes))
    for prefix, group in by_prefix.items():
        k = len(tables[prefix[0]])
        joint = tables[prefix[0]]
        for a in prefix[1:]:
            joint = (joint[:, :, None] * tables[a][:, None, :]).reshape(k, -1)
        lasts = [order[-1] for _, order, _ in group]
        product = joint.T @ np.concatenate([tables[a] for a in lasts], axis=1) * (float(total) / k)
        start = 0
        for (attrs, order, axes), a in zip(group, lasts):
            block = product[:, start : start + sizes[a]].reshape(tuple(sizes[b] for b in order))
            out[attrs] = np.ascontiguousarray(block.transpose(axes))
            start += sizes[a]
    return [out[tuple(attrs)] for attrs in many]


def sample_mixture(tables: Sequence[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows of codes: a component uniformly at random, then each column from the
    component's probabilities (inverse CDF on a flattened, per-component offset CDF).

    Example:
        >>> t = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])]
        >>> codes = sample_mixture(t, 6, np.random.default_rng(0))
        >>> bool((codes[:, 0] == codes[:, 1]).all())
        True
    """
    k = len(tables[0]) if tables else 0
    out = np.empty((int(n), len(tables)), dtype=np.int64)
    if n == 0 or not tables:
        return out
    component = rng.integers(k, size=int(n))
    for j, table in enumerate(tables):
        levels = table.shape[1]
        cdf = np.cumsum(table, axis=1)
        cdf /= cdf[:, -1:]
        flat = (cdf + np.arange(k)[:, None]).ravel()  # component c's CDF shifted into [c, c + 1]
        u = component + rng.random(int(n))
        pos = np.searchsorted(flat, u, side="right")
        out[:, j] = np.minimum(pos - component * levels, levels - 1)
    return out


class MixtureEstimator:
    """A mixture of product distributions, output by a network, fitted to noisy marginals.

    Args:
        sizes: Levels per column (public domain).
        components: Mixture components (the network's fixed inputs).
        hidden: Hidden layer sizes of the network (``()``: each component's logits are free
            parameters).
        learning_rate: Adam's learning rate.
        generator: The torch generator that draws the inputs and the initial weights.
        device: Where training runs.

    Example:
        >>> import torch
        >>> est = MixtureEstimator((2, 2), components=8, hidden=(16,), learning_rate=1e-2,
        ...                        generator=torch.Generator().manual_seed(0))
        >>> y = Measurement((0, 1), np.array([[40.0, 10.0], [10.0, 40.0]]), sigma=1.0)
        >>> est.train([y], total=100.0, iterations=400)
        >>> est.project((0, 1)).round(0).tolist()
        [[40.0, 10.0], [10.0, 40.0]]
    """

    def __init__(self, sizes: Sequence[int], *, components: int = 1024, hidden: Sequence[int] = (256, 256),
                 learning_rate: float = 1e-3, generator: torch.Generator, device: Any = "cpu") -> None:
        import torch
        from torch import nn
        from torch.nn.utils import skip_init

        self.sizes = tuple(int(s) for s in sizes)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.device = torch.device(device)
        width = int(self.offsets[-1])
        dims = [int(h) for h in hidden]
        if dims:
            self.inputs = torch.randn((int(components), dims[0]), generator=generator).to(self.device)
            layers: list[nn.Module] = []
            for a, b in zip(dims, [*dims[1:], width]):
                linear = skip_init(nn.Linear, a, b)  # no draw from torch's global RNG: the caller's state is theirs
                with torch.no_grad():
                    linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator) * (1.0 / a) ** 0.5)
                    linear.bias.zero_()
                layers += [linear, nn.ReLU()]
            self.net: nn.Module = nn.Sequential(*layers[:-1]).to(self.device)
        else:
            self.inputs = torch.empty((int(components), 0), device=self.device)
            self.net = _FreeLogits(torch.randn((int(components), width), generator=generator)).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=float(learning_rate))
        self.total = 1.0
        self._tables: list[np.ndarray] | None = None
        self.started = False  # set by start_at

    def start_at(self, one_way: Sequence[np.ndarray]) -> None:
        """Start every component near the product of the given 1-way marginals (clipped at one
        count): the output layer's bias at their logarithms, its weights scaled down, so that
        training begins from independence and adds the dependence the measurements show."""
        import torch

        logs = np.concatenate([np.log(np.clip(np.asarray(p, dtype=float), 1.0, None) / np.clip(p, 1.0, None).sum()) for p in one_way])
        with torch.no_grad():
            last: Any = self.net if isinstance(self.net, _free_logits_module()) else self.net[-1]  # type: ignore[index]
            last.bias.copy_(torch.as_tensor(logs, dtype=last.bias.dtype))
            last.weight.mul_(_START_SCALE)
        self.started = True

    def _probabilities(self) -> list[torch.Tensor]:
        logits = self.net(self.inputs)
        return [logits[:, a:b].softmax(dim=1) for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    def train(self, measurements: Sequence[Measurement], *, total: float, iterations: int) -> None:
        """Adam steps on ``sum ||(total * mixture marginal - y) / sigma||^2 / 2`` over the measurements
        (one term per measured set: see :func:`_pooled`)."""
        self.total = float(total)
        terms = _Terms.of(_pooled(measurements), self.sizes, self.offsets, self.device)
        scale = self.total / len(self.inputs)
        for _ in range(int(iterations)):
            self.optimizer.zero_grad(set_to_none=True)
            loss = terms.loss(self._probabilities(), scale)
            loss.backward()
            self.optimizer.step()
        self._tables = None

    def tables(self) -> list[np.ndarray]:
        """Per column, the components' probabilities (``components x levels``, float64)."""
        if self._tables is None:
            import torch

            with torch.no_grad():
                self._tables = [p.double().cpu().numpy() for p in self._probabilities()]
        return self._tables

    def project(self, attrs: Attrs) -> np.ndarray:
        """The mixture's marginal counts over ``attrs`` (sorted attributes)."""
        return mixture_marginal(self.tables(), tuple(attrs), self.total)

    def project_many(self, many: Sequence[Attrs]) -> list[np.ndarray]:
        """:meth:`project` of every set in ``many``, sets sharing a prefix in one product (in
        float32: these marginals only score the candidates of a round)."""
        return mixture_marginals([t.astype(np.float32) for t in self.tables()], many, self.total)


class _Terms:
    """The least-squares terms of :meth:`MixtureEstimator.train`, laid out so that one iteration
    takes a few large operations instead of several small ones per measured set: every 1-way
    term at once (the components' summed probabilities at the measured levels), and the other
    sets grouped by all but their largest attribute (:func:`_contraction_order`), whose
    components' joint meets the group's last attributes in one matrix product; the targets and
    weights are laid out once, in the product's order."""

    def __init__(self, levels: Any, one_values: Any, one_weights: Any,
                 groups: list[tuple[Attrs, list[int], Any, Any]]) -> None:
        self.levels, self.one_values, self.one_weights, self.groups = levels, one_values, one_weights, groups

    @classmethod
    def of(cls, pooled: Sequence[tuple[Attrs, np.ndarray, np.ndarray]], sizes: Sequence[int], offsets: np.ndarray,
           device: Any) -> "_Terms":
        import torch

        as_tensor = functools.partial(torch.as_tensor, dtype=torch.float32, device=device)
        ones = [(attrs[0], y, w) for attrs, y, w in pooled if len(attrs) == 1]
        spans = [np.arange(offsets[j], offsets[j + 1]) for j, _, _ in ones]
        by_prefix: dict[Attrs, list[tuple[int, np.ndarray, np.ndarray]]] = {}
        for attrs, y, w in pooled:
            if len(attrs) > 1:
                order, _ = _contraction_order(attrs, sizes)
                position = [attrs.index(a) for a in order]  # the target's axes in the product's order
                cells = int(np.prod([sizes[a] for a in order[:-1]]))
                by_prefix.setdefault(order[:-1], []).append(
                    (order[-1], y.transpose(position).reshape(cells, -1), w.transpose(position).reshape(cells, -1)))
        groups = [(prefix, [last for last, _, _ in group], as_tensor(np.concatenate([y for _, y, _ in group], axis=1)),
                   as_tensor(np.concatenate([w for _, _, w in group], axis=1))) for prefix, group in by_prefix.items()]
        return cls(torch.as_tensor(np.concatenate(spans or [np.zeros(0, int)]), dtype=torch.long, device=device),
                   as_tensor(np.concatenate([y for _, y, _ in ones] or [np.zeros(0)])),
                   as_tensor(np.concatenate([w for _, _, w in ones] or [np.zeros(0)])), groups)

    def loss(self, probs: Sequence[torch.Tensor], scale: float) -> torch.Tensor:
        """``sum w (scale * mixture marginal - y)^2 / 2`` over every term."""
        import torch

        mu = torch.cat(list(probs), dim=1).sum(dim=0)[self.levels] * scale
        loss = (self.one_weights * (mu - self.one_values) ** 2).sum() / 2
        for prefix, lasts, values, weights in self.groups:
            joint = probs[prefix[0]]
            for a in prefix[1:]:
                joint = (joint[:, :, None] * probs[a][:, None, :]).reshape(joint.shape[0], -1)
            mu = joint.T @ torch.cat([probs[a] for a in lasts], dim=1) * scale
            loss = loss + (weights * (mu - values) ** 2).sum() / 2
        return loss


def _pooled(measurements: Sequence[Measurement]) -> list[tuple[Attrs, np.ndarray, np.ndarray]]:
    """One least-squares term per measured set: ``sum_i ||(mu - y_i) / sigma_i||^2`` equals
    ``sum(w * (mu - y_bar)^2)`` plus a constant, with ``w = sum_i 1 / sigma_i^2`` per cell and
    ``y_bar`` the ``1 / sigma_i^2``-weighted mean of the measurements."""
    sums: dict[Attrs, list[np.ndarray]] = {}
    for m in measurements:
        w = 1.0 / np.broadcast_to(np.asarray(m.sigma, dtype=float) ** 2, m.values.shape)
        if m.attrs in sums:
            sums[m.attrs][0] = sums[m.attrs][0] + w * m.values
            sums[m.attrs][1] = sums[m.attrs][1] + w
        else:
            sums[m.attrs] = [w * m.values, w]
    return [(attrs, wy / w, w) for attrs, (wy, w) in sums.items()]


#: The output layer's weights are scaled by this when training starts at the 1-way marginals.
_START_SCALE = 0.5


@functools.lru_cache(maxsize=1)
def _free_logits_module() -> Any:
    from torch import nn

    class FreeLogits(nn.Module):
        """Each component's logits as free parameters (the network with no hidden layer): a
        shared ``bias`` plus a ``weight`` row per component, as a linear layer on one-hot inputs."""

        def __init__(self, start: torch.Tensor) -> None:
            super().__init__()
            self.weight = nn.Parameter(start)  # components x width
            self.bias = nn.Parameter(start.new_zeros(start.shape[1]))

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.weight + self.bias

    return FreeLogits


def _FreeLogits(start: torch.Tensor) -> Any:  # noqa: N802 -- a class built when torch is imported
    return _free_logits_module()(start)
