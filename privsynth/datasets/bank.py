"""A generated bank database: customers -> accounts -> transactions, and a public merchant list.

Related tables with a *known* dependency structure (:data:`BANK_DEPENDENCIES`), so a relational
synthesizer can be judged against the truth: how many accounts a customer has depends on their
segment, an account's type on the customer's segment and age, how many transactions an account
has on its type, a transaction's channel and amount on the account's type, and whether a
customer churned on their segment and number of accounts (a task that needs a join). Customer
names are made up by Faker and declared as identifiers (dropped, never modelled). Deterministic
given ``random_state``; no file or network needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from privsynth.core.domain import Categorical, Domain, Numeric, Ordinal
from privsynth.core.rng import resolve_rng
from privsynth.relational.schema import ForeignKey, Schema, TableSpec

__all__ = ["make_bank", "bank_schema", "BANK_DEPENDENCIES", "MERCHANT_CATEGORIES"]

AGE_BANDS = ("18-29", "30-44", "45-59", "60+")
REGIONS = ("North", "South", "East", "West", "Capital")
SEGMENTS = ("mass", "affluent", "business")
ACCOUNT_TYPES = ("checking", "savings", "credit", "loan")
OPENED = ("<2y", "2-5y", "5-10y", "10y+")
CHANNELS = ("card", "online", "branch", "transfer")
MERCHANT_CATEGORIES = ("grocery", "travel", "fuel", "retail", "utilities", "dining", "health", "services")
N_MERCHANTS = 40

#: (table, column) -> what it depends on, across tables (``accounts.n`` is the number of accounts).
BANK_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "customers.segment": ("customers.age_band",),
    "customers.churned": ("customers.segment", "accounts.n"),
    "accounts.n": ("customers.segment",),
    "accounts.type": ("customers.segment", "customers.age_band"),
    "accounts.opened": ("customers.age_band",),
    "accounts.status": ("accounts.type",),
    "transactions.n": ("accounts.type",),
    "transactions.channel": ("accounts.type",),
    "transactions.amount": ("accounts.type", "transactions.channel"),
    "transactions.merchant_id": ("transactions.channel",),
}


def bank_schema(*, max_accounts: int = 4, max_transactions: int = 8, max_transactions_per_person: int | None = 12) -> Schema:
    """The declared schema of :func:`make_bank` with its public contribution bounds: at most
    ``max_accounts`` accounts per customer, ``max_transactions`` transactions per account and
    ``max_transactions_per_person`` per customer (12 instead of 4 x 8 = 32 cuts the noise on the
    transactions 2.7-fold; it drops the extra rows of the 5.5% of customers with more,
    ``benchmarks/results/relational_bank.md``)."""
    customers = Domain((Categorical("name", ("-",), role="identifier"), Ordinal("age_band", AGE_BANDS),
                        Categorical("region", REGIONS), Categorical("segment", SEGMENTS), Categorical("churned", ("no", "yes"))))
    accounts = Domain((Categorical("type", ACCOUNT_TYPES), Ordinal("opened", OPENED), Categorical("status", ("active", "closed"))))
    transactions = Domain((Categorical("channel", CHANNELS), Numeric("amount", 0.0, 5000.0, bins=16),
                           Categorical("merchant_id", tuple(range(1, N_MERCHANTS + 1)))))
    return Schema(tables=(
        TableSpec("customers", "customer_id", customers),
        TableSpec("accounts", "account_id", accounts, parent=ForeignKey("customer_id", "customers"), max_per_parent=max_accounts),
        TableSpec("transactions", "transaction_id", transactions, parent=ForeignKey("account_id", "accounts"),
                  max_per_parent=max_transactions, max_per_person=max_transactions_per_person,
                  references=(ForeignKey("merchant_id", "merchants"),)),
        TableSpec("merchants", "merchant_id", public=True),
    ), person="customers")


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > np.cumsum(probs, axis=1)).sum(axis=1), probs.shape[1] - 1)


def make_bank(n: int = 10_000, *, random_state: Any = 0, max_accounts: int = 4, max_transactions: int = 8,
              max_transactions_per_person: int | None = 12) -> tuple[dict[str, pd.DataFrame], Schema]:
    """Generate a bank database of ``n`` customers and its declared schema.

    About 2 accounts per customer (up to 7; the schema's bound ``max_accounts`` drops the rest
    when fitting), about 2.5 transactions per account (up to 15; bound ``max_transactions``) and
    5 per customer (95th percentile 13; bound ``max_transactions_per_person``).

    Returns:
        ``(tables, schema)``: ``{"customers", "accounts", "transactions", "merchants"}`` DataFrames
        with their keys, and the schema (merchants is a public reference table).

    Example:
        >>> tables, schema = make_bank(100, random_state=1)
        >>> sorted(tables), schema.person, schema.rows_per_person("transactions")
        (['accounts', 'customers', 'merchants', 'transactions'], 'customers', 12)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    rng = resolve_rng(random_state)
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(int(rng.integers(2**31)))
    age = rng.choice(4, size=n, p=[0.22, 0.30, 0.28, 0.20])
    region = rng.choice(5, size=n, p=[0.2, 0.2, 0.15, 0.15, 0.3])
    seg_p = np.array([[0.85, 0.05, 0.10], [0.65, 0.20, 0.15], [0.55, 0.30, 0.15], [0.60, 0.35, 0.05]])
    segment = _pick(rng, seg_p[age])
    n_accounts = 1 + rng.poisson(np.array([0.6, 1.6, 2.4])[segment])
    n_accounts = np.minimum(n_accounts, 7)
    churn_p = np.clip(np.array([0.25, 0.10, 0.15])[segment] - 0.05 * (n_accounts - 1), 0.02, 0.5)
    churned = rng.random(n) < churn_p
    customers = pd.DataFrame({
        "customer_id": np.arange(1, n + 1), "name": [fake.name() for _ in range(n)],
        "age_band": np.array(AGE_BANDS, dtype=object)[age], "region": np.array(REGIONS, dtype=object)[region],
        "segment": np.array(SEGMENTS, dtype=object)[segment], "churned": np.where(churned, "yes", "no").astype(object)})

    owner = np.repeat(np.arange(n), n_accounts)
    m = len(owner)
    type_p = np.array([[0.50, 0.25, 0.20, 0.05], [0.30, 0.40, 0.20, 0.10], [0.35, 0.10, 0.20, 0.35]])[segment[owner]]
    type_p = type_p * np.array([[1.0, 0.7, 1.2, 0.6], [1.0, 1.0, 1.0, 1.2], [1.0, 1.2, 0.9, 1.0], [1.0, 1.5, 0.7, 0.5]])[age[owner]]
    kind = _pick(rng, type_p / type_p.sum(axis=1, keepdims=True))
    opened = _pick(rng, np.array([[0.6, 0.35, 0.05, 0.0], [0.3, 0.4, 0.25, 0.05], [0.15, 0.3, 0.3, 0.25],
                                  [0.1, 0.2, 0.3, 0.4]])[age[owner]])
    closed = rng.random(m) < np.array([0.08, 0.15, 0.12, 0.25])[kind]
    accounts = pd.DataFrame({
        "account_id": np.arange(1, m + 1), "customer_id": owner + 1, "type": np.array(ACCOUNT_TYPES, dtype=object)[kind],
        "opened": np.array(OPENED, dtype=object)[opened], "status": np.where(closed, "closed", "active").astype(object)})

    n_tx = np.minimum(rng.poisson(np.array([4.0, 0.6, 3.0, 0.8])[kind]), 15)
    account = np.repeat(np.arange(m), n_tx)
    t = len(account)
    channel_p = np.array([[0.6, 0.2, 0.05, 0.15], [0.0, 0.3, 0.3, 0.4], [0.55, 0.45, 0.0, 0.0], [0.0, 0.1, 0.4, 0.5]])
    channel = _pick(rng, channel_p[kind[account]])
    scale = np.array([[60.0, 400.0, 900.0], [120.0, 250.0, 300.0], [800.0, 1500.0, 2500.0], [300.0, 600.0, 1200.0]])
    amount = np.clip(rng.gamma(2.0, scale[channel, np.minimum(kind[account], 2)] / 2.0), 0.0, 5000.0).round(2)
    merchant_cat = np.arange(N_MERCHANTS) % len(MERCHANT_CATEGORIES)  # the public merchant list is the same for every seed
    by_channel = np.array([[0.30, 0.05, 0.20, 0.20, 0.0, 0.20, 0.05, 0.0], [0.05, 0.30, 0.0, 0.35, 0.10, 0.05, 0.05, 0.10],
                           [0.0, 0.0, 0.0, 0.1, 0.3, 0.0, 0.2, 0.4], [0.0, 0.1, 0.0, 0.0, 0.5, 0.0, 0.1, 0.3]])
    weight = by_channel[:, merchant_cat] + 1e-3
    merchant = _pick(rng, (weight / weight.sum(axis=1, keepdims=True))[channel]) + 1
    transactions = pd.DataFrame({
        "transaction_id": np.arange(1, t + 1), "account_id": account + 1, "channel": np.array(CHANNELS, dtype=object)[channel],
        "amount": amount, "merchant_id": merchant})
    merchants = pd.DataFrame({"merchant_id": np.arange(1, N_MERCHANTS + 1),
                              "category": np.array(MERCHANT_CATEGORIES, dtype=object)[merchant_cat]})
    schema = bank_schema(max_accounts=max_accounts, max_transactions=max_transactions,
                         max_transactions_per_person=max_transactions_per_person)
    return {"customers": customers, "accounts": accounts, "transactions": transactions, "merchants": merchants}, schema
