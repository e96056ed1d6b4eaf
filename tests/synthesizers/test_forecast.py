"""The budget forecast: public inputs only, the plan's own noise, and a warning from the DP count."""

from __future__ import annotations

import math
import warnings

import pytest

import privsynth as ps
from privsynth.cli import main
from privsynth.synthesizers.forecast import NoiseDominatedWarning, forecast
from privsynth.synthesizers.mst import MST

MARGINAL = ("independent", "dpgaussiancopula", "privbayes", "mst", "aim")


@pytest.fixture(scope="module")
def census():
    return ps.datasets.make_census(2000, random_state=0)


@pytest.mark.parametrize("name", MARGINAL)
def test_more_records_or_more_budget_mean_less_forecast_noise(census, name):
    _, domain = census
    small, large = (forecast(name, domain, epsilon=1.0, rows=n) for n in (1_000, 100_000))
    assert large.noise_tvd_1 < small.noise_tvd_1 and large.tvd_1 < small.tvd_1
    assert forecast(name, domain, epsilon=4.0, rows=1_000).noise_tvd_1 < small.noise_tvd_1
    assert not large.noise_dominated and all(m.noise_tvd >= 0 for m in large.measurements)


def test_the_forecast_reads_the_plan_the_fit_draws_from(census):
    _, domain = census
    model = MST(epsilon=1.0)
    plan = model._plan(domain, ps.privacy.get_accountant("rdp"))
    f = forecast(model, domain, rows=5_000)
    one_way = f.measurements[0]
    assert one_way.scale == pytest.approx(plan["sigma_one"]) and one_way.noise == "gaussian"
    cells = one_way.cells
    assert one_way.noise_tvd == pytest.approx(min(0.5 * cells * plan["sigma_one"] * math.sqrt(2 / math.pi) / 5_000, 1), rel=0.35)


def test_the_forecast_is_close_to_what_independent_marginals_measure(census):
    df, domain = census
    f = forecast("independent", domain, epsilon=0.5, rows=len(df))
    measured = []
    for seed in range(3):
        syn = ps.synthesizers.IndependentMarginals(epsilon=0.5, random_state=seed).fit(df, domain)
        measured.append(ps.evaluation.marginal_tvd(df, syn.sample(len(df), random_state=seed), domain, order=1).average)
    assert 0.5 * f.tvd_1 <= sum(measured) / 3 <= 2.0 * f.tvd_1


def test_a_noise_dominated_fit_warns_from_its_dp_count(census):
    df, domain = census
    with pytest.warns(NoiseDominatedWarning, match="noise-dominated"):
        ps.synthesizers.AIM(epsilon=0.3, degree=2, random_state=0, progress=False).fit(df.iloc[:400], domain)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoiseDominatedWarning)
        ps.synthesizers.IndependentMarginals(epsilon=5.0, random_state=0).fit(df, domain)


def test_bad_input_and_deep_models_are_refused(census):
    _, domain = census
    with pytest.raises(ValueError, match="rows"):
        forecast("mst", domain, epsilon=1.0, rows=0)
    with pytest.raises(ValueError, match="No analytic forecast"):
        forecast("dpvae", domain, epsilon=1.0, rows=1000)


def test_the_command(census, tmp_path, capsys):
    _, domain = census
    path = tmp_path / "domain.yaml"
    domain.to_file(path)
    assert main(["forecast", "--domain", str(path), "--epsilon", "1", "--rows", "500"]) == 0
    out = capsys.readouterr().out
    assert "| aim |" in out and "YES" in out and "noise-dominated" in out
