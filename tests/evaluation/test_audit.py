"""The audit catches a deliberately broken synthesizer and stays below the claim for sound ones."""

import numpy as np
import pytest
from scipy.stats import binomtest

import privsynth as ps
from privsynth.core.dataset import encode, levels
from privsynth.evaluation.audit import audit, clopper_pearson, epsilon_lower_bound, worst_case_canary
from privsynth.mechanisms._samplers import discrete_laplace_numpy
from privsynth.mechanisms.counts import histogram
from privsynth.privacy.calibrate import laplace_noise_multiplier, split_epsilon
from privsynth.privacy.events import LaplaceEvent
from privsynth.synthesizers import DPGaussianCopula, IndependentMarginals, PrivBayes
from privsynth.synthesizers._discrete import normalize_counts


class NoiseDividedBy100(IndependentMarginals):
    """Charges the ledger for Laplace noise at epsilon, but draws noise 100 times smaller."""

    def _fit(self, data, domain, *, ledger, plan, randomness, checkpoint_dir=None):
        rng = randomness.generator("releases")
        codes, sizes = encode(data, domain, bins=self.bins), levels(domain, bins=self.bins)
        self.marginals_ = []
        for j, eps in enumerate(split_epsilon(self.epsilon, [1.0] * len(domain))):
            nm = laplace_noise_multiplier(eps)
            ledger.charge(LaplaceEvent(noise_multiplier=nm, discrete=True), label=f"marginal {j}")
            self.marginals_.append(normalize_counts(histogram(codes[:, j], (sizes[j],)) + discrete_laplace_numpy(nm / 100, sizes[j], rng)))
        self.n_hat_ = len(data)  # (broken on purpose: the exact count)


@pytest.fixture(scope="module")
def small():
    df, domain = ps.datasets.make_census(300, random_state=0)
    cols = ["age", "sex", "race", "education"]
    return df[cols], domain.select(cols)


def test_clopper_pearson_matches_scipy():
    for k, n in [(0, 50), (3, 50), (25, 50), (50, 50), (7, 13)]:
        ci = binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
        assert clopper_pearson(k, n, 0.9) == pytest.approx((ci.low, ci.high), abs=1e-10)


def test_epsilon_lower_bound_formula():
    assert epsilon_lower_bound((0.9, 1.0), (0.0, 0.1), 0.0) == pytest.approx(np.log(9))
    assert epsilon_lower_bound((0.5, 0.6), (0.4, 0.5), 0.0) == 0.0
    assert epsilon_lower_bound((0.9, 1.0), (0.0, 0.1), 0.5) == pytest.approx(np.log(0.4 / 0.1))


def test_canary_takes_the_rarest_values(small):
    data, domain = small
    canary = worst_case_canary(data, domain)
    rarest_race = data["race"].value_counts().reindex(domain["race"].categories, fill_value=0).idxmin()
    assert canary["race"].iloc[0] == rarest_race and len(canary) == 1


@pytest.mark.slow  # the default run checks the same with notebooks/04_auditing_epsilon.ipynb
def test_audit_catches_noise_divided_by_100(small):
    data, domain = small
    result = audit(lambda s: NoiseDividedBy100(epsilon=1.0, random_state=s), data, domain, n_trials=200, progress=False)
    assert result.claimed_epsilon == pytest.approx(1.0)
    assert result.exceeds_claim and result.epsilon_lower_bound > 2.0


@pytest.mark.parametrize("factory", [
    pytest.param(lambda s: IndependentMarginals(epsilon=1.0, random_state=s), marks=pytest.mark.slow),  # and notebook 04
    pytest.param(lambda s: PrivBayes(epsilon=1.0, random_state=s, progress=False), marks=pytest.mark.slow),
    pytest.param(lambda s: DPGaussianCopula(epsilon=1.0, random_state=s), marks=pytest.mark.slow),
], ids=["independent", "privbayes", "copula"])
def test_audit_stays_below_the_claim_for_sound_synthesizers(small, factory):
    data, domain = small
    result = audit(factory, data, domain, n_trials=200, progress=False)
    assert not result.exceeds_claim and result.epsilon_lower_bound <= 1.0
    assert result.to_dict()["n_trials"] == 200


def test_audit_runs_in_parallel_and_checks_input(small):
    data, domain = small
    result = audit(lambda s: IndependentMarginals(epsilon=2.0, random_state=s), data, domain, n_trials=40, n_synthetic=2000,
                   n_jobs=2, progress=False)
    assert result.claimed_epsilon == pytest.approx(2.0)
    with pytest.raises(ValueError, match="at least 20"):
        audit(lambda s: IndependentMarginals(random_state=s), data, domain, n_trials=5)
