import pytest

from privsynth.privacy.events import (
    ComposedEvent,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    PureDpEvent,
    SubsampledGaussianEvent,
    event_from_dict,
    event_to_dict,
    pure_epsilon,
)

EVENTS = [
    LaplaceEvent(noise_multiplier=2.0),
    LaplaceEvent(noise_multiplier=0.5, discrete=True),
    GaussianEvent(noise_multiplier=1.5, discrete=True),
    ExponentialEvent(epsilon=0.25),
    PureDpEvent(epsilon=1.0),
    SubsampledGaussianEvent(noise_multiplier=1.1, sampling_rate=0.01, steps=500),
    ComposedEvent((LaplaceEvent(noise_multiplier=1.0), GaussianEvent(noise_multiplier=2.0))),
]


@pytest.mark.parametrize("event", EVENTS)
def test_round_trip(event):
    assert event_from_dict(event_to_dict(event)) == event
    hash(event)  # hashable: accountants group identical events


@pytest.mark.parametrize(
    "make",
    [
        lambda: LaplaceEvent(noise_multiplier=0),
        lambda: GaussianEvent(noise_multiplier=float("nan")),
        lambda: ExponentialEvent(epsilon=-1),
        lambda: SubsampledGaussianEvent(noise_multiplier=1, sampling_rate=1.5),
        lambda: SubsampledGaussianEvent(noise_multiplier=1, sampling_rate=0.1, steps=0),
        lambda: SubsampledGaussianEvent(noise_multiplier=1, sampling_rate=0.1, steps=2.5),
    ],
)
def test_invalid_parameters(make):
    with pytest.raises(ValueError):
        make()


def test_unknown_kind_or_field():
    with pytest.raises(ValueError, match="Unknown event kind"):
        event_from_dict({"kind": "magic"})
    with pytest.raises(ValueError, match="Unknown fields"):
        event_from_dict({"kind": "laplace", "noise_multiplier": 1.0, "epsilon": 3})
    with pytest.raises(TypeError):
        ComposedEvent(("not an event",))


def test_pure_epsilon():
    assert pure_epsilon(LaplaceEvent(noise_multiplier=4.0)) == 0.25
    assert pure_epsilon(GaussianEvent(noise_multiplier=1.0)) is None
    assert pure_epsilon(ComposedEvent((ExponentialEvent(epsilon=0.5), PureDpEvent(epsilon=0.5)))) == 1.0
