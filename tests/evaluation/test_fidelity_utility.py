import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import privsynth as ps
from privsynth import DomainError
from privsynth.evaluation import (
    correlation_difference,
    marginal_tvd,
    plot_correlation_difference,
    plot_marginals,
    train_synthetic_test_real,
)
from privsynth.synthesizers import IndependentMarginals, PrivBayes


def test_marginal_tvd_by_hand():
    domain = ps.Domain((ps.Categorical("a", ("x", "y")), ps.Categorical("b", ("u", "v"))))
    real = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["u", "u", "v", "v"]})
    synth = pd.DataFrame({"a": ["x", "y", "x", "y"], "b": ["u", "u", "v", "v"]})
    assert marginal_tvd(real, synth, domain, order=1).average == 0.0
    two = marginal_tvd(real, synth, domain, order=2)
    assert two.average == pytest.approx(0.5) and two.worst_marginal == ("a", "b") and two.n_marginals == 1
    assert two.to_dict()["per_marginal"] == {"a|b": 0.5}
    with pytest.raises(ValueError, match="order"):
        marginal_tvd(real, synth, domain, order=4)
    with pytest.raises(DomainError, match="non-empty"):
        marginal_tvd(real.iloc[:0], synth, domain)


def test_correlation_difference_sees_lost_dependence(census):
    data, domain = census
    indep = IndependentMarginals(epsilon=10.0, random_state=0).fit(data, domain).sample(len(data), random_state=0)
    pb = PrivBayes(epsilon=10.0, random_state=0, progress=False).fit(data, domain).sample(len(data), random_state=0)
    d_ind, d_pb = correlation_difference(data, indep, domain), correlation_difference(data, pb, domain)
    assert d_pb.mean_absolute < d_ind.mean_absolute
    assert d_ind.real.loc["education", "income"] > 0.3 and d_ind.synthetic.loc["education", "income"] < 0.1
    assert np.allclose(np.diag(d_ind.real), 1.0) and set(d_ind.to_dict()) == {"mean_absolute", "max_absolute", "difference"}


def test_plots_return_figures(census, tmp_path):
    data, domain = census
    synth = IndependentMarginals(epsilon=1.0, random_state=0).fit(data, domain).sample(500)
    fig = plot_marginals(data, synth, domain, columns=["age", "sex", "race", "income"])
    assert isinstance(fig, Figure) and len([a for a in fig.axes if a.get_visible()]) == 4
    heat = plot_correlation_difference(correlation_difference(data, synth, domain))
    heat.savefig(tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000


def test_tstr_real_beats_independent_synthetic(census):
    data, domain = census
    train, test = data.iloc[:1000], data.iloc[1000:]
    synth = IndependentMarginals(epsilon=5.0, random_state=0).fit(train, domain).sample(1000)
    result = train_synthetic_test_real(train, test, synth, domain, target="sex")
    assert 0 <= result.auc_synthetic <= 1 and result.auc_real > result.auc_synthetic - 0.05
    with pytest.raises(DomainError, match="categorical"):
        train_synthetic_test_real(train, test, synth, domain, target="age")
    with pytest.raises(DomainError, match="positive class"):
        train_synthetic_test_real(train, test, synth, domain, target="sex", positive="Other")
