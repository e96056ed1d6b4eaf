import numpy as np
import pandas as pd
import pytest

from privsynth.core.dataset import validate
from privsynth.datasets import CENSUS_DEPENDENCIES, census_domain, make_census


def test_deterministic_and_conforming():
    a, domain = make_census(800, random_state=5)
    b, _ = make_census(800, random_state=5)
    c, _ = make_census(800, random_state=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    validate(a, domain)
    assert domain == census_domain() and domain.is_declared
    assert a["occupation"].isna().mean() == pytest.approx(0.03, abs=0.02)


def test_known_dependencies_are_present_and_others_absent():
    df, _ = make_census(20_000, random_state=0)
    edu = df["education"].map({v: i for i, v in enumerate(census_domain()["education"].categories)})
    assert np.corrcoef(edu, np.log(df["income"]))[0, 1] > 0.4  # education -> income
    assert df.groupby(df["age"] > 60)["diagnosis"].apply(lambda s: (s == "Healthy").mean()).diff().iloc[-1] < -0.2
    assert df.groupby("sex")["hours-per-week"].mean().diff().iloc[-1] > 3  # sex -> hours
    assert abs(np.corrcoef(df["age"], (df["region"] == "R00").astype(float))[0, 1]) < 0.03  # independent
    assert set(CENSUS_DEPENDENCIES) <= set(df.columns)


def test_bad_size():
    with pytest.raises(ValueError, match="positive"):
        make_census(0)
