"""The DP-SGD step as a mechanism: validate -> charge -> clip -> all-reduce -> noise.

Like :func:`privsynth.mechanisms.laplace`, :func:`dp_sgd_step` charges the ledger before it
computes anything private: one step is the Poisson-subsampled Gaussian mechanism
(:class:`~privsynth.privacy.events.SubsampledGaussianEvent`, consecutive steps coalesced into one
ledger entry). Then it clips every example's gradient to ``max_grad_norm`` and sums
(:class:`~privsynth.mechanisms.clipping.ClippedSum`), all-reduces the sums across data-parallel
workers, and adds Gaussian noise of standard deviation ``noise_multiplier * max_grad_norm`` to
the global sum *once* (on rank 0, which alone charges; the noisy gradient is broadcast).

The privacy argument: the batch is a Poisson sample of the records at ``sampling_rate``
(:func:`privsynth.mechanisms.sampling.poisson_sample`); adding or removing one record changes
the clipped sum by at most ``max_grad_norm`` -- public examples (the GAN's fakes) come in a
fixed number per step, never the batch's size; the noise makes each step the subsampled Gaussian
mechanism the accountant composes. The parameter update is post-processing.
"""

from __future__ import annotations

import torch

from privsynth.core.errors import PrivsynthError
from privsynth.mechanisms._common import check_positive
from privsynth.mechanisms.clipping import ClippedSum, LossFn
from privsynth.privacy.budget import Budget
from privsynth.privacy.events import SubsampledGaussianEvent
from privsynth.privacy.ledger import Ledger

__all__ = ["dp_sgd_step", "add_noise", "resolve_device"]


def resolve_device(device: str) -> torch.device:
    """``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Raises:
        PrivsynthError: CUDA was requested but is not available, or the index does not exist.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise PrivsynthError(f"device={device!r} requested but no CUDA GPU is available here (torch.cuda.is_available() "
                                 "is False); use device='cpu' or 'auto'.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise PrivsynthError(f"device={device!r} requested but only {torch.cuda.device_count()} GPU(s) are present.")
    return dev


def add_noise(sums: dict, noise_std: float, divide_by: float, generator: torch.Generator) -> None:
    """``p.grad = (sum + N(0, noise_std^2)) / divide_by`` for every parameter, the noise drawn
    from ``generator`` (private randomness)."""
    for p, s in sums.items():
        noise = torch.normal(0.0, noise_std, size=s.shape, generator=generator, device=s.device, dtype=s.dtype)
        p.grad = (s + noise) / divide_by


def _chunks(records: torch.Tensor, max_physical_batch_size: int | None, n_public: int) -> list[tuple[torch.Tensor, int]]:
    """Physical chunks of one logical batch; the first also carries the step's public examples."""
    size = max_physical_batch_size or max(len(records), 1)
    parts = torch.split(records, size) if len(records) else (records,)
    return [(part, n_public if i == 0 else 0) for i, part in enumerate(parts)]


def dp_sgd_step(
    loss: LossFn,
    records: torch.Tensor,
    *,
    clipper: ClippedSum,
    noise_multiplier: float,
    sampling_rate: float,
    max_grad_norm: float,
    normalizer: float,
    ledger: Ledger | None,
    noise: torch.Generator | None,
    n_public: int = 0,
    max_physical_batch_size: int | None = None,
    distributed: bool = False,
    label: str = "DP-SGD steps",
) -> Budget | None:
    """One private step: writes ``p.grad = (clipped sum + noise) / normalizer`` for the clipped
    module's parameters.

    Args:
        loss: ``loss(module, records, n_public)`` -> one loss per record, then one per public example.
        records: The Poisson-sampled batch (this worker's part of it).
        clipper: The clipping engine over the privatized module.
        noise_multiplier, sampling_rate: The step's event (``sampling_rate`` as the sampler used).
        max_grad_norm: Per-example clipping norm (the sum's L2 sensitivity).
        normalizer: Divides the noisy sum (a DP or public value, e.g. the expected batch size).
        ledger: Charged before anything is computed; only rank 0 passes one.
        noise: Private randomness of the Gaussian noise; exactly the rank holding ``ledger`` has it.
        n_public: Public examples per step (a fixed number, never the batch size).
        max_physical_batch_size: Split the batch into chunks of at most this many records.
        distributed: All-reduce the sums over ``torch.distributed`` and broadcast rank 0's noisy gradient.
        label: The ledger entry's label.

    Returns:
        The ledger's spend after the charge (``None`` on ranks that do not charge).

    Raises:
        BudgetExceededError: the step does not fit the ledger; nothing was computed.
    """
    event, std = _validate(noise_multiplier, sampling_rate, max_grad_norm, normalizer, ledger, noise)
    spent = _charge(ledger, event, label)
    sums = clipper(loss, _chunks(records, max_physical_batch_size, int(n_public)), max_grad_norm)  # clip
    if distributed:
        _all_reduce(sums)
    _noise_and_share(sums, std, float(normalizer), noise, distributed)
    return spent


def _validate(noise_multiplier: float, sampling_rate: float, max_grad_norm: float, normalizer: float, ledger: Ledger | None,
              noise: torch.Generator | None) -> tuple[SubsampledGaussianEvent, float]:
    event = SubsampledGaussianEvent(noise_multiplier=noise_multiplier, sampling_rate=sampling_rate, steps=1)  # validates both
    std = event.noise_multiplier * check_positive("max_grad_norm", max_grad_norm)
    check_positive("normalizer", normalizer)
    if (ledger is None) != (noise is None):
        raise ValueError("The worker that charges the ledger is the one that draws the noise: pass both or neither.")
    return event, std


def _charge(ledger: Ledger | None, event: SubsampledGaussianEvent, label: str) -> Budget | None:
    """Before anything private is computed; consecutive steps coalesce into one entry."""
    return ledger.charge(event, label=label, coalesce=True) if ledger is not None else None


def _all_reduce(sums: dict) -> None:
    """The global clipped sum, on every worker."""
    import torch.distributed as dist

    for s in sums.values():
        dist.all_reduce(s, op=dist.ReduceOp.SUM)


def _noise_and_share(sums: dict, std: float, normalizer: float, noise: torch.Generator | None, distributed: bool) -> None:
    """The worker holding the noise writes ``p.grad = (sum + noise) / normalizer``; with several
    workers it broadcasts that gradient, so the step has exactly one noise draw."""
    if noise is not None:
        add_noise(sums, std, normalizer, noise)
    else:
        for p, s in sums.items():
            p.grad = s  # placeholder of the right shape: overwritten by rank 0's broadcast below
    if distributed:
        import torch.distributed as dist

        for p in sums:
            dist.broadcast(p.grad, src=0)
