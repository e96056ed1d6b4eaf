import itertools

import numpy as np
import pytest

import privsynth as ps
from privsynth.core.dataset import encode, levels
from privsynth.privacy.events import ExponentialEvent, LaplaceEvent
from privsynth.synthesizers import IndependentMarginals, PrivBayes
from privsynth.synthesizers.privbayes import R_SCORE_SENSITIVITY, r_score
from privsynth.testing import check_synthesizer

HUGE = 1e8  # test-only: noise becomes negligible, so the model must equal the noise-free one


@pytest.mark.parametrize("params", [
    {"epsilon": 1.0}, {"epsilon": 1.0, "delta": 1e-6}, {"epsilon": 2.0, "degree": 1},
    {"epsilon": 1.0, "secure": True}, {"epsilon": 1.0, "accountant": "pld", "delta": 1e-6},
])
def test_contract(census, params):
    data, domain = census
    check_synthesizer(PrivBayes(random_state=0, progress=False, **params), data, domain)


def brute_force_r(x, parents, kx, kp):
    n = len(x)
    total = 0.0
    for xv in range(kx):
        for pv in itertools.product(*[range(k) for k in kp]):
            in_p = np.all(parents == np.array(pv), axis=1) if kp else np.ones(n, bool)
            c_xp = np.sum((x == xv) & in_p)
            total += abs(c_xp - np.sum(x == xv) * np.sum(in_p) / n)
    return total / 2


def test_r_score_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(1, 40))
        kx, kp = int(rng.integers(2, 4)), tuple(int(k) for k in rng.integers(2, 4, size=rng.integers(1, 3)))
        x = rng.integers(0, kx, n)
        p = np.column_stack([rng.integers(0, k, n) for k in kp])
        assert r_score(x, p, kx, kp) == pytest.approx(brute_force_r(x, p, kx, kp))


def test_r_score_sensitivity_bound_holds():
    """Adding one record never moves the count-scale R score by R_SCORE_SENSITIVITY or more."""
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(3000):
        n = int(rng.integers(1, 30))
        kx, kp = int(rng.integers(2, 5)), (int(rng.integers(2, 5)),)
        x, p = rng.integers(0, kx, n), rng.integers(0, kp[0], (n, 1))
        skew = rng.random() < 0.5  # also try concentrated data, where the bound is tightest
        if skew:
            x[:] = 0
            p[:] = 0
        nx, npar = int(rng.integers(kx)), rng.integers(0, kp[0], (1, 1))
        before = r_score(x, p, kx, kp)
        after = r_score(np.append(x, nx), np.vstack([p, npar]), kx, kp)
        worst = max(worst, abs(after - before))
    assert worst < R_SCORE_SENSITIVITY
    assert worst > 1.0  # the bound is not vacuous


def test_huge_epsilon_gives_the_noise_free_model(census):
    data, domain = census
    syn = PrivBayes(epsilon=HUGE, random_state=0, progress=False).fit(data, domain)
    codes, sizes = encode(data, domain), levels(domain)
    pos = {n: j for j, n in enumerate(domain.names)}
    chosen = [pos[syn.network_[0][0]]]
    for name, parents in syn.network_[1:]:
        pairs = [(x, ps_) for x in range(len(domain)) if x not in chosen for ps_ in syn._candidates(x, chosen, sizes, syn.max_cells_)]
        scores = [r_score(codes[:, x], codes[:, list(p)], sizes[x], tuple(sizes[q] for q in p)) for x, p in pairs]
        picked = (pos[name], tuple(pos[p] for p in parents))
        assert scores[pairs.index(picked)] == pytest.approx(max(scores))  # exponential mechanism -> argmax
        chosen.append(pos[name])
    for (name, parents), cond in zip(syn.network_, syn.conditionals_):
        cols = [pos[p] for p in parents]
        x = codes[:, pos[name]]
        for cfg in itertools.product(*[range(sizes[c]) for c in cols]):
            rows = np.all(codes[:, cols] == np.array(cfg), axis=1) if cols else np.ones(len(x), bool)
            flat = int(np.ravel_multi_index(cfg, [sizes[c] for c in cols])) if cols else 0
            expected = np.bincount(x[rows] if rows.any() else x, minlength=sizes[pos[name]])
            np.testing.assert_allclose(cond[flat], expected / expected.sum(), atol=1e-6)


def test_sampling_reproduces_conditionals_iid(census):
    data, domain = census
    syn = PrivBayes(epsilon=HUGE, random_state=0, progress=False).fit(data, domain)
    out = syn.sample(60_000, random_state=2)
    # every table's conditional is matched by the samples (children i.i.d. within parent groups)
    codes, sizes, pos = encode(out, domain), levels(domain), {n: j for j, n in enumerate(domain.names)}
    for (name, parents), cond in zip(syn.network_, syn.conditionals_):
        cols = [pos[p] for p in parents]
        pidx = np.ravel_multi_index(tuple(codes[:, cols].T), [sizes[c] for c in cols]) if cols else np.zeros(len(out), int)
        for cfg in np.unique(pidx)[:5]:
            rows = pidx == cfg
            if rows.sum() > 2000:
                freq = np.bincount(codes[rows, pos[name]], minlength=sizes[pos[name]]) / rows.sum()
                assert np.abs(freq - cond[cfg]).max() < 5 * np.sqrt(0.25 / rows.sum())


def test_fidelity_degrades_gracefully_and_beats_independence(census):
    data, domain = census
    tvd = {}
    for eps in (1e4, 3.0, 0.1):
        tvd[eps] = np.mean([ps.evaluation.marginal_tvd(
            data, PrivBayes(epsilon=eps, random_state=s, progress=False).fit(data, domain).sample(5000, random_state=s), domain).average
            for s in range(3)])
    assert tvd[1e4] < tvd[3.0] < tvd[0.1] < 0.5
    indep = np.mean([ps.evaluation.marginal_tvd(
        data, IndependentMarginals(epsilon=1e4, random_state=s).fit(data, domain).sample(5000, random_state=s), domain).average
        for s in range(3)])
    assert tvd[1e4] < indep  # the network captures dependence the independent model cannot


def test_ledger_entries_compose_to_the_certificate(census):
    data, domain = census
    syn = PrivBayes(epsilon=1.0, random_state=0, progress=False).fit(data, domain)
    cert = syn.certificate_
    kinds = [type(e.event) for e in cert.entries]
    d = len(domain)
    assert kinds.count(ExponentialEvent) == d - 1 and kinds.count(LaplaceEvent) == 1 + d
    assert cert.entries[0].label.startswith("record count")
    assert sum(e.event.epsilon for e in cert.entries) == pytest.approx(cert.spent.epsilon, rel=1e-12)
    assert cert.spent.epsilon <= 1.0 and ps.verify(cert).ok
    # theta-usefulness: no table exceeds the cap (unless the child alone does)
    sizes, pos = levels(domain), {n: j for j, n in enumerate(domain.names)}
    for (name, _parents), cond in zip(syn.network_, syn.conditionals_):
        assert cond.size <= max(syn.max_cells_, sizes[pos[name]])


def test_bounded_degree_and_bad_parameters(census):
    data, domain = census
    syn = PrivBayes(epsilon=5.0, degree=1, random_state=0, progress=False).fit(data, domain)
    assert all(len(parents) <= 1 for _, parents in syn.network_)
    syn0 = PrivBayes(epsilon=5.0, degree=0, random_state=0, progress=False).fit(data, domain)
    assert all(parents == () for _, parents in syn0.network_)
    for params, pattern in [({"degree": -1}, "degree"), ({"degree": "many"}, "degree"), ({"theta": 0}, "theta"),
                            ({"structure_share": 1.0}, "structure_share")]:
        with pytest.raises(ValueError, match=pattern):
            PrivBayes(**params).fit(data, domain)


def test_mixed_types_with_missing_values_on_adult():
    data, domain = ps.datasets.load_adult()
    syn = PrivBayes(epsilon=1.0, random_state=0, progress=False).fit(data.sample(8000, random_state=0), domain)
    out = syn.sample(5000)
    ps.core.validate(out, domain)
    assert out["workclass"].isna().any() and out["age"].dtype == np.int64
