"""A generated table of fake people with known identifier columns, for testing PII detection.

Every value is made up by Faker (no real person is in it); the point is a table that looks like
a customer or patient file, with a truth table saying which column holds which kind of
personal data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_people", "people_kinds", "PEOPLE_KINDS"]

#: Column -> the kind :func:`privsynth.profiling.detect_identifiers` should report (``None``: not personal data).
PEOPLE_KINDS: dict[str, str | None] = {
    "customer_id": "unique_key",
    "full_name": "person_name",
    "ssn": "ssn",
    "birth_date": "date_of_birth",
    "email": "email",
    "phone": "phone",
    "street_address": "street_address",
    "zip": "postcode",
    "ip": "ip_address",
    "card_number": "credit_card",
    "notes": "free_text",
    "signup_date": "date",
    "age": None,
    "sex": None,
    "state": None,
    "plan": None,
    "satisfaction": None,
    "monthly_spend": None,
    "visits": None,
}


def people_kinds(locale: str = "en_US") -> dict[str, str | None]:
    """The truth table of :func:`make_people` for ``locale`` (Faker's ``en_GB`` ``ssn`` is a UK
    National Insurance number; ``de_DE`` falls back to the US format)."""
    kinds = dict(PEOPLE_KINDS)
    if locale == "en_GB":
        kinds["ssn"] = "national_id"  # a National Insurance number
    return kinds


def make_people(n: int = 2000, *, random_state: int = 0, locale: str = "en_US", anonymous_names: bool = False) -> pd.DataFrame:
    """``n`` fake customers with identifier columns (see :data:`PEOPLE_KINDS`).

    Args:
        n: Rows.
        random_state: Seed of Faker and numpy (public: these are not private data).
        locale: Faker locale of names and addresses.
        anonymous_names: Name the columns ``c00, c01, ...`` so that a detector must rely on the
            values alone (the truth table maps ``c00`` to the first kind and so on).

    Example:
        >>> df = make_people(5, random_state=1)
        >>> df.shape
        (5, 19)
    """
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(random_state)
    rng = np.random.default_rng(random_state)
    sex = rng.choice(["female", "male"], n)
    births = [fake.date_of_birth(minimum_age=18, maximum_age=90) for _ in range(n)]
    df = pd.DataFrame({
        "customer_id": [f"C{100000 + i}" for i in rng.permutation(n)],
        "full_name": [fake.name_female() if s == "female" else fake.name_male() for s in sex],
        "ssn": [fake.ssn() for _ in range(n)],
        "birth_date": [d.isoformat() for d in births],
        "email": [fake.email() for _ in range(n)],
        "phone": [fake.phone_number() for _ in range(n)],
        "street_address": [fake.street_address() for _ in range(n)],
        "zip": [fake.postcode() for _ in range(n)],
        "ip": [fake.ipv4() if rng.random() < 0.8 else fake.ipv6() for _ in range(n)],
        "card_number": [fake.credit_card_number() for _ in range(n)],
        "notes": [fake.sentence(nb_words=int(rng.integers(6, 16))) for _ in range(n)],
        "signup_date": [fake.date_between(start_date="-5y").isoformat() for _ in range(n)],
        "age": [2026 - d.year for d in births],
        "sex": sex,
        "state": rng.choice(["CA", "NY", "TX", "FL", "WA", "IL", "MA"], n, p=[0.25, 0.2, 0.2, 0.15, 0.08, 0.07, 0.05]),
        "plan": rng.choice(["basic", "plus", "premium"], n, p=[0.6, 0.3, 0.1]),
        "satisfaction": rng.integers(1, 6, n),
        "monthly_spend": np.round(rng.gamma(2.0, 40.0, n), 2),
        "visits": rng.poisson(4, n),
    })
    if anonymous_names:
        df.columns = [f"c{i:02d}" for i in range(df.shape[1])]
    return df
