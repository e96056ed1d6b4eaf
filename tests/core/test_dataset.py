import re

import numpy as np
import pandas as pd
import pytest

from privsynth.core.dataset import decode, encode, levels, validate
from privsynth.core.domain import Categorical, Domain, Numeric, Ordinal
from privsynth.core.errors import DomainError

DOMAIN = Domain(
    (
        Numeric("age", 17, 90, integer=True, bins=8),
        Categorical("sex", ("F", "M")),
        Categorical("job", ("a", "b", "c"), nullable=True),
        Numeric("income", 0.0, 1000.0, nullable=True, bins=4),
        Ordinal("edu", ("lo", "mid", "hi")),
    )
)


def frame(**overrides):
    data = {
        "age": [20, 35, 60, 90],
        "sex": ["F", "M", "M", "F"],
        "job": ["a", None, "c", "b"],
        "income": [10.0, np.nan, 999.0, 0.0],
        "edu": ["lo", "hi", "mid", "mid"],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def test_valid_frame_is_canonicalized():
    out = validate(frame(extra=[1, 2, 3, 4]), DOMAIN)
    assert list(out.columns) == list(DOMAIN.names)
    assert isinstance(out["sex"].dtype, pd.CategoricalDtype)
    assert out["edu"].cat.ordered
    assert out["age"].dtype == np.float64


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        ({"sex": ["F", "M", "X", "Y"]}, r"'sex' has values outside its declared categories"),
        ({"age": [20, 35, 160, 5]}, r"'age' has values outside its public bounds \[17, 90\]"),
        ({"age": ["20", "x", 60, 90]}, r"'age' is declared numeric but holds values that are not numbers"),
        ({"age": [20.5, 35, 60, 90]}, r"'age' is declared integer but has non-integer values"),
        ({"sex": ["F", None, "M", "F"]}, r"'sex' has missing values but is not nullable"),
        ({"age": [20, np.nan, 60, 90]}, r"'age' has missing values but is not nullable"),
        ({"age": [20, np.inf, 60, 90]}, r"'age' has values outside its public bounds"),
    ],
)
def test_domain_errors_name_the_column_and_read_the_same_for_neighbours(overrides, pattern):
    """An error is an output too: it names the column and how to fix it, never a count or a value,
    so that it reads the same after one more offending record is added (issue #9, item 9)."""
    with pytest.raises(DomainError, match=pattern) as info:
        validate(frame(**overrides), DOMAIN)
    message = str(info.value)
    assert any(word in message for word in ("declare", "add the", "widen", "convert", "round"))
    assert "160" not in message and "'X'" not in message and "'Y'" not in message and not re.search(r"\b[1-4]\b", message)
    df, base = frame(**overrides), frame()
    (col,) = overrides
    bad = next(i for i in range(len(df)) if not (df[col][i] == base[col][i] or (pd.isna(df[col][i]) and pd.isna(base[col][i]))))
    neighbour = pd.concat([df, df.iloc[[bad]]], ignore_index=True)  # one more offending record
    with pytest.raises(DomainError) as other:
        validate(neighbour, DOMAIN)
    assert str(other.value) == message


def test_missing_column():
    with pytest.raises(DomainError, match=r"\['edu'\].*missing from the data"):
        validate(frame().drop(columns="edu"), DOMAIN)


def test_not_a_frame():
    with pytest.raises(DomainError, match="DataFrame"):
        validate({"age": [1]}, DOMAIN)


def test_clip_clips_to_public_bounds():
    out = validate(frame(age=[10, 35, 160, 90]), DOMAIN, clip=True)
    assert out["age"].tolist() == [17.0, 35.0, 90.0, 90.0]
    assert np.isnan(out["income"][1])  # missing stays missing


def test_encode_uses_public_bins_and_missing_state():
    codes = encode(frame(), DOMAIN)
    assert levels(DOMAIN) == (8, 2, 4, 5, 3)
    assert codes[:, 0].tolist() == [0, 1, 4, 7]  # 20, 35, 60, 90 on 8 bins over [17, 90]
    assert codes[1, 2] == 3 and codes[1, 3] == 4  # missing -> last state
    assert codes[2, 3] == 3 and codes[3, 3] == 0


def test_decode_round_trips_codes_within_bins():
    rng = np.random.default_rng(0)
    codes = np.column_stack([rng.integers(0, k, 5000) for k in levels(DOMAIN)])
    out = decode(codes, DOMAIN, rng=rng)
    validate(out, DOMAIN)  # stays in the domain
    np.testing.assert_array_equal(encode(out, DOMAIN), codes)
    assert out["age"].dtype == np.int64 and out["income"].dtype == np.float64
    assert out["income"].isna().sum() == (codes[:, 3] == 4).sum()


def test_decode_nullable_integer_uses_nullable_dtype():
    d = Domain((Numeric("k", 0, 100, integer=True, nullable=True, bins=3),))
    out = decode(np.array([[0], [1], [2], [3]]), d, rng=np.random.default_rng(0))
    assert str(out["k"].dtype) == "Int64" and out["k"].isna().tolist() == [False, False, False, True]
    np.testing.assert_array_equal(encode(out, d), [[0], [1], [2], [3]])
