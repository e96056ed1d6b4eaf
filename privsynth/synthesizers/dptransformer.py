"""``DPTransformer``: an autoregressive transformer over a record's columns, trained with DP-SGD.

Each column is one token (its code on the domain's public bins: a category, a numeric bin, or
the missing state); a small causal transformer learns every column's distribution given the
columns before it (:mod:`~privsynth.synthesizers._transformer_net`), so the record's
likelihood is exact and sampling draws the columns in order -- in numpy, with a key/value cache
(:mod:`~privsynth.synthesizers._numpy_transformer`). A number is drawn uniformly within its
bin, as the marginal methods do. The whole network sees records, so all of it is privatized; the
accounting, the DP count and 1-way marginals released before training, checkpoints, secure mode
and data-parallel workers are those of every DP-SGD synthesizer
(:mod:`~privsynth.synthesizers._dpsgd_base`). The 1-way marginals start the output layer (the
network begins as the independent-columns model) and calibrate the samples: column by column,
logit offsets fitted on a pool of generated records make each column's marginal the DP one
given the columns drawn before it (post-processing). Needs the ``deep`` extra to fit.

Sampling *given* the first columns falls out of the order: :meth:`DPTransformer.complete`
draws the remaining columns given values of a prefix of the domain's columns.

How the defaults were chosen (discretized Adult, 48,842 rows, 14 columns, 588 codes; epsilon 1,
seed 0, 2-way TVD of a release of all rows, one fit each on this 2-core CPU; width 32, 4 heads,
2 layers, 20 epochs unless said; each is ``DPTransformer(epsilon=1, random_state=0, **changes)``):

* ``marginal_share`` decides most: 0.2 -> 0.053 (1-way 0.018), 0.4 -> 0.045 (0.012), 0.6 -> 0.043
  (0.010), with ``sampling_rate=0.1``; the calibrated release's 1-way error is the DP marginals'
  error, and it weighs on every 2-way marginal. 0.5 at ``sampling_rate=0.05``: 0.042.
* ``learning_rate`` 3e-3 -> 0.065, 1e-2 -> 0.053, 2e-2 -> 0.053 (share 0.2, 200 steps).
* ``sampling_rate`` 0.25 (80 steps) -> 0.058, 0.1 (200) -> 0.053 (share 0.2); 0.05 (400) -> 0.042
  against 0.1 -> 0.045 (share 0.5 / 0.4).
* ``max_grad_norm`` 0.1 and 1.0 gave the same release: every record's gradient is clipped either
  way and Adam's step does not depend on the gradient's scale.
* ``layers`` (share 0.5, rate 0.05) 1 -> 0.043 in 53 s, 2 -> 0.042 in 91 s; without noise (epsilon
  1e4) both 0.023. One layer samples 1.8x faster: the default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import pandas as pd

from privsynth.core import checks
from privsynth.core.dataset import decode, encode, levels, validate
from privsynth.core.domain import DEFAULT_BINS, Domain
from privsynth.core.errors import PrivsynthError
from privsynth.core.rng import resolve_rng
from privsynth.core.rules import apply_rules
from privsynth.synthesizers._dpsgd_base import _CALIBRATION_POOL, DPSGDSynthesizer
from privsynth.synthesizers._numpy_transformer import NumpyTransformer

if TYPE_CHECKING:  # torch is imported when a fit starts; sampling needs numpy only
    import torch
    from torch import nn

__all__ = ["DPTransformer"]

#: Draws per record of :meth:`DPTransformer.complete` before a domain rule it keeps breaking is reported.
_RULE_ROUNDS = 20


class _CodeEncoder:
    """Records to the domain's codes at the fit's bins (``float32``, one column per column): the
    transformer's tokens. Nothing in it is fitted."""

    def __init__(self, domain: Domain, bins: int) -> None:
        self.domain, self.bins = domain, int(bins)
        self.levels = levels(domain, bins=self.bins)
        self.width = len(domain)

    def transform(self, data: pd.DataFrame, rng: np.random.Generator | None = None) -> np.ndarray:
        return encode(data, self.domain, bins=self.bins).astype(np.float32)

    def state(self) -> dict[str, Any]:
        return {"bins": self.bins}


class DPTransformer(DPSGDSynthesizer):
    """Causal transformer over the columns, trained with DP-SGD (book-keeping clipping).

    Args:
        epsilon: Privacy budget.
        delta: ``None``: the fixed public default ``1e-5``; choose it well below ``1 / n``.
        epochs: Expected passes over the data (``steps = ceil(epochs / sampling_rate)``).
        sampling_rate: Poisson sampling rate of each step (a public parameter).
        max_grad_norm: Per-sample clipping norm.
        width: Model width (``d_model``), a multiple of ``heads``.
        heads: Attention heads.
        layers: Transformer blocks.
        feedforward: Hidden units of each block's feed-forward layer.
        learning_rate: Adam learning rate.
        marginal_share: Share of epsilon for the DP 1-way marginals released before training
            (they start the output layer and calibrate the samples).
        calibrate: Fit per-column logit offsets after training so that each column's 1-way
            marginal is the DP one (post-processing).
        bins: Bins of numeric columns whose domain declares none (each bin is one token).
        engine: ``"auto"``, ``"bookkeeping"`` or ``"opacus"``.
        max_physical_batch_size: Split logical batches into chunks of at most this many records.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        devices: Data-parallel workers (``> 1`` spawns torch.distributed processes).
        checkpoint_every: Steps between checkpoints when ``fit(checkpoint_dir=...)``.
        accountant, random_state, secure, progress: As for every DP-SGD synthesizer.

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(600, random_state=0)
        >>> syn = DPTransformer(epsilon=2.0, epochs=1, sampling_rate=0.2, random_state=0, progress=False).fit(df, domain)
        >>> syn.sample(3).shape, syn.certificate_.spent.epsilon <= 2.0
        ((3, 10), True)
    """

    layers_: NumpyTransformer  # type: ignore[assignment]  # the MLP synthesizers keep numpy layers here

    _private_attribute = "net_"
    _state_attributes = {"transformer": "net_"}

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float | None = None,
        epochs: float = 20,
        sampling_rate: float = 0.05,
        max_grad_norm: float = 1.0,
        width: int = 32,
        heads: int = 4,
        layers: int = 1,
        feedforward: int = 64,
        learning_rate: float = 1e-2,
        marginal_share: float = 0.5,
        calibrate: bool = True,
        bins: int = DEFAULT_BINS,
        engine: str = "auto",
        max_physical_batch_size: int | None = None,
        device: str = "auto",
        devices: int = 1,
        checkpoint_every: int = 100,
        accountant: str = "rdp",
        random_state: Any = None,
        secure: bool = False,
        progress: bool | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.epochs = epochs
        self.sampling_rate = sampling_rate
        self.max_grad_norm = max_grad_norm
        self.width = width
        self.heads = heads
        self.layers = layers
        self.feedforward = feedforward
        self.learning_rate = learning_rate
        self.marginal_share = marginal_share
        self.calibrate = calibrate
        self.bins = bins
        self.engine = engine
        self.max_physical_batch_size = max_physical_batch_size
        self.device = device
        self.devices = devices
        self.checkpoint_every = checkpoint_every
        self.accountant = accountant
        self.random_state = random_state
        self.secure = secure
        self.progress = progress

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("width", "heads", "layers", "feedforward"):
            checks.integer(getattr(self, name), name, owner="DPTransformer")
        if int(self.width) % int(self.heads):
            raise ValueError(f"DPTransformer: width ({self.width}) must be a multiple of heads ({self.heads}); e.g. width=32, "
                             "heads=4.")
        checks.number(self.learning_rate, "learning_rate", low=0, low_open=True, owner="DPTransformer")

    def _check_encoding_params(self) -> None:
        """Nothing beyond ``bins`` (checked with the DP-SGD parameters): the tokens are the domain's codes."""

    # -- the network -------------------------------------------------------------------------
    def _make_encoder(self, domain: Domain, state: Mapping[str, Any] | None = None) -> _CodeEncoder:
        return _CodeEncoder(domain, int(state["bins"]) if state is not None else int(self.bins))

    def _build(self, width: int, device: torch.device, generator: torch.Generator) -> None:
        import torch

        from privsynth.synthesizers._transformer_net import CausalTransformer

        net = CausalTransformer(self.encoder_.levels, width=int(self.width), heads=int(self.heads), layers=int(self.layers),
                                feedforward=int(self.feedforward))
        net.initialise(generator, self.marginals_)
        self.net_ = net.to(device)
        self._opt: dict[str, torch.optim.Optimizer] = {"private": torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate)}
        self.offsets_: dict[int, np.ndarray] = {}

    def _per_sample_loss(self, module: nn.Module, batch: torch.Tensor, n_public: int, *, generator: torch.Generator) -> torch.Tensor:
        return module(batch)  # each record's negative log-likelihood

    def _export_layers(self) -> NumpyTransformer:
        from privsynth.synthesizers._transformer_net import export_transformer

        return export_transformer(self.net_)

    def _calibrate(self, rng: np.random.Generator) -> None:
        self.offsets_ = self.layers_.fit_offsets(_CALIBRATION_POOL, rng, self.marginals_)

    # -- sampling (numpy) ----------------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        return decode(self.layers_.generate(n, rng, offsets=self.offsets_), self.domain_, bins=self.encoder_.bins, rng=rng)

    def complete(self, given: pd.DataFrame, *, random_state: Any = None) -> pd.DataFrame:
        """Records whose first columns are ``given`` and whose other columns are drawn from the
        model given them (one record per row of ``given``): the model's order makes this its
        exact conditional. Numbers of given columns are kept as given. Where the domain has
        business rules, a record that breaks one is drawn again (given the same values).

        Args:
            given: Values of the domain's first ``k`` columns, in the domain's order.
            random_state: Public seed for the draws.

        Raises:
            ValueError: ``given``'s columns are not the domain's first columns (the order is named).
            PrivsynthError: some given values leave the model (almost) no record that keeps the
                domain's rules.

        Example:
            >>> import privsynth as ps
            >>> df, domain = ps.datasets.make_census(600, random_state=0)
            >>> syn = DPTransformer(epsilon=2.0, epochs=1, random_state=0, progress=False).fit(df, domain)
            >>> rows = syn.complete(pd.DataFrame({"age": [30, 70]}), random_state=0)
            >>> rows["age"].tolist(), rows.shape
            ([30, 70], (2, 10))
        """
        self._check_fitted()
        names = list(self.domain_.names)
        k = len(given.columns)
        if list(given.columns) != names[:k]:
            raise ValueError(f"DPTransformer.complete draws the columns after the given ones in the model's order {names}; "
                             f"`given` must hold its first columns in that order (got {list(given.columns)}).")
        sub = self.domain_.select(names[:k])
        checked = validate(given.reset_index(drop=True), sub)
        rng = resolve_rng(random_state)
        prefix = encode(checked, sub, bins=self.encoder_.bins)

        def draw(rows: np.ndarray) -> pd.DataFrame:
            codes = self.layers_.generate(len(rows), rng, offsets=self.offsets_, given=prefix[rows])
            out = decode(codes, self.domain_, bins=self.encoder_.bins, rng=rng)
            for name in names[:k]:
                out[name] = pd.Series(checked[name].to_numpy()[rows]).astype(out[name].dtype)
            return out

        out = draw(np.arange(len(checked)))
        if not self.domain_.rules:
            return out
        out, ok = apply_rules(out, self.domain_, ())
        for _ in range(_RULE_ROUNDS):
            redo = np.flatnonzero(~ok)
            if not len(redo):
                return out
            again, kept = apply_rules(draw(redo), self.domain_, ())
            again.index = redo
            out = pd.concat([out.drop(index=redo), again]).sort_index()
            ok[redo] = kept
        raise PrivsynthError(f"DPTransformer.complete: {int((~ok).sum())} of {len(ok)} records broke a rule of the domain in "
                             f"{_RULE_ROUNDS} draws given their values (first: row {int(np.flatnonzero(~ok)[0])}); the model "
                             "(almost) never completes those values within the rules. Check the given values against the rules.")

    # -- model files ---------------------------------------------------------------------------
    def _network_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        offsets = {f"offset::{t}": np.asarray(o, dtype=np.float64) for t, o in self.offsets_.items()}
        return {"network": {"heads": self.layers_.heads, "layers": len(self.layers_.blocks)}}, {**self.layers_.to_arrays(), **offsets}

    def _restore_network(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        network = state["network"]
        self.layers_ = NumpyTransformer.from_arrays(self.encoder_.levels, int(network["heads"]), int(network["layers"]), arrays)
        self.offsets_ = {}
        for key, value in arrays.items():
            if key.startswith("offset::"):
                t = int(key.split("::")[1])
                if not 0 <= t < len(self.encoder_.levels) or np.shape(value) != (self.encoder_.levels[t],):
                    raise ValueError(f"The model file's {key!r} does not fit the domain's column {t}: it is damaged.")
                self.offsets_[t] = np.asarray(value, dtype=np.float64)
