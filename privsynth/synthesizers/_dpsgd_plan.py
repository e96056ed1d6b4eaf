"""The plan of a DP-SGD fit, a pure function of public parameters (no record, no count).

A DP-SGD fit charges, in order:

1. a noisy record count (1% of epsilon): post-processing turns it into the expected batch size
   ``sampling_rate * n_hat`` (the gradient normalizer and the GAN's number of fakes per step)
   and a DP size for releases;
2. DP histograms released before training, each a named share of epsilon for a number of
   histograms (the 1-way marginals: discrete Gaussian noise calibrated as if that share were
   spent alone -- Gaussian releases compose sub-additively, so a share of 0.3 costs the training
   far less than 30% of its noise budget -- or discrete Laplace with an accountant that cannot
   model the discrete Gaussian);
3. ``steps = ceil(epochs / sampling_rate)`` DP-SGD steps of the Poisson-subsampled Gaussian
   mechanism, with the noise multiplier calibrated so that everything composes to at most
   ``(epsilon, delta)``.

The sampling rate is a *parameter*, not ``batch_size / n``: under add/remove-one neighbours the
record count is private, so a rate derived from it would make the plan -- steps, noise, and the
delta the certificate states -- depend on the data. The rate is rounded down to a multiple of
``2**-53``, which the sampler realizes exactly. ``delta=None`` means :data:`AUTO_DELTA`, a fixed
public value (not ``1/n``).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from privsynth.mechanisms.sampling import dyadic_rate
from privsynth.privacy.accountants import Accountant
from privsynth.privacy.calibrate import dpsgd_noise_multiplier, split_epsilon
from privsynth.privacy.events import Event, SubsampledGaussianEvent
from privsynth.synthesizers._plan import FitPlan, count_event, histogram_noise

__all__ = ["plan_dpsgd", "AUTO_DELTA", "COUNT_SHARE", "QUIET_NOISE", "is_quiet"]

#: DP-SGD's delta when none is given: fixed and public (a delta read off the data would not be).
AUTO_DELTA = 1e-5
#: Share of epsilon spent on the noisy record count.
COUNT_SHARE = 0.01
#: Noise on each step's averaged gradient (``noise_multiplier / expected batch``) below which a
#: fit counts as quiet (between epsilon 10's and 3's on Adult's default plans): DPVAE's
#: ``kl_weight="auto"`` and DPGAN's ``discriminator_optimizer="auto"`` follow it.
QUIET_NOISE = 5e-4


def is_quiet(noise_multiplier: float, expected_batch: float) -> bool:
    """Whether the plan's noise on each step's averaged gradient is below :data:`QUIET_NOISE`
    (both inputs are public: the plan and the DP record count, so choices made on it are
    post-processing).

    Example:
        >>> is_quiet(10.6, 4884.0), is_quiet(0.135, 4884.0)
        (False, True)
    """
    return noise_multiplier / max(1.0, expected_batch) < QUIET_NOISE


def plan_dpsgd(*, epsilon: float, delta: float | None, sampling_rate: float, epochs: float, accountant: Accountant,
               histograms: Mapping[str, tuple[float, int]] | None = None, prior: Sequence[Event] = (),
               prior_budget: tuple[float, float] = (0.0, 0.0)) -> FitPlan:
    """Every charge of a DP-SGD fit, and the noise multiplier that makes them fit ``(epsilon, delta)``.

    Args:
        epsilon, delta: The fit's budget (``delta=None``: :data:`AUTO_DELTA`).
        sampling_rate: Poisson sampling rate of each step.
        epochs: Expected passes over the data; ``steps = ceil(epochs / sampling_rate)``.
        accountant: Calibrates the noise.
        histograms: ``name -> (share of epsilon, number of histograms)`` released before training.
        prior: Events charged before the fit on the same ledger (a DP domain's estimation), and
            ``prior_budget`` the ``(epsilon, delta)`` they were granted: the noise is calibrated
            so that they and the fit compose within the sum of both budgets, as the fit's ledger
            checks (without them, the accountant's composition of a pure-DP prior with DP-SGD
            could exceed the sum by a little, and the fit would be refused).

    Example:
        >>> from privsynth.privacy.accountants import RdpAccountant
        >>> plan = plan_dpsgd(epsilon=1.0, delta=None, sampling_rate=0.1, epochs=2, accountant=RdpAccountant())
        >>> plan["steps"], plan.delta, round(plan["noise_multiplier"], 2)
        (20, 1e-05, 2.3)
    """
    delta = AUTO_DELTA if delta is None else float(delta)
    histograms = {k: v for k, v in (histograms or {}).items() if v[1] > 0}
    shares = [share for share, _ in histograms.values()]
    if not 0 < COUNT_SHARE + sum(shares) < 1:
        raise ValueError(f"The pre-training releases' shares of epsilon must sum below {1 - COUNT_SHARE}, got {sum(shares)}.")
    eps_count, *eps_hist, _ = split_epsilon(epsilon, [COUNT_SHARE, *shares, 1 - COUNT_SHARE - sum(shares)])
    events: list[Event] = [count_event(eps_count)]
    noise: dict[str, list[dict[str, float]]] = {}
    for (name, (_, count)), eps in zip(histograms.items(), eps_hist):
        noise[name], hist_events = histogram_noise(epsilon=eps, delta=delta, count=count, accountant=accountant)
        events += hist_events
    q = dyadic_rate(sampling_rate)
    steps = max(1, math.ceil(epochs / float(sampling_rate) - 1e-9))  # tolerant of float round-off (3 / 0.1)
    nm = dpsgd_noise_multiplier(epsilon=epsilon + float(prior_budget[0]), delta=delta + float(prior_budget[1]),
                                sampling_rate=q, steps=steps, accountant=accountant, already_spent=[*prior, *events])
    events.append(SubsampledGaussianEvent(noise_multiplier=nm, sampling_rate=q, steps=steps))
    return FitPlan(
        events=events,
        delta=delta,
        settings={"eps_count": eps_count, "histograms": noise, "sampling_rate": q, "steps": steps, "noise_multiplier": nm},
        parameters={"resolved_delta": delta, "resolved_sampling_rate": q, "steps": steps, "noise_multiplier": nm},
        assumptions=(f"DP-SGD: exact Poisson sampling at rate {q:.6g}, {steps} steps, noise multiplier {nm:.6g} "
                     "(one Gaussian draw per step on the sum of per-example gradients clipped in L2)",),
    )
