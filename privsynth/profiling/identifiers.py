"""Which columns look like identifiers or personal data: names, value patterns and uniqueness.

:func:`detect_identifiers` classifies each column of a table from three kinds of evidence: its
name (``ssn``, ``email``, ``dob`` ...), the share of its values that match a pattern (an e-mail
address, a US social security number, a card number passing the Luhn check, an IP address, a
phone number, a full date, a street address, a ZIP or UK postcode, a person's name from the
first- and last-name lists shipped with Faker's locales, free text) and how unique its values are.
Each detection has a confidence in ``[0, 1]`` and the regulation categories it maps to (GDPR
personal data or special category, HIPAA Safe Harbor identifier).

This looks at the private records, so its result is for the data owner only: it is never part
of a release, a model file or a certificate.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"contact": ["ann@example.org", "bob@example.com", "cy@example.net"],
    ...                    "age": [31, 45, 27]})
    >>> [(d.column, d.kind, d.direct) for d in detect_identifiers(df)]
    [('contact', 'email', True)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from privsynth.profiling.value_patterns import HINTED_PATTERNS, PATTERNS, UUID, known_names, luhn_valid, share_matching

__all__ = ["Detection", "KINDS", "DIRECT_KINDS", "detect_identifiers", "detect_column", "luhn_valid", "known_names"]

#: Every kind :func:`detect_identifiers` reports, with what it means and the regulation categories.
KINDS: dict[str, dict[str, object]] = {
    "person_name": {"label": "a person's name", "direct": True,
                    "regulations": ("GDPR personal data", "HIPAA identifier (A) names")},
    "ssn": {"label": "a US social security number", "direct": True,
            "regulations": ("GDPR personal data (national identification number, Art. 87)", "HIPAA identifier (G) SSN")},
    "national_id": {"label": "a national ID, passport or tax number", "direct": True,
                    "regulations": ("GDPR personal data (national identification number, Art. 87)",
                                    "HIPAA identifier (R) other unique identifying number")},
    "date_of_birth": {"label": "a date of birth", "direct": True,
                      "regulations": ("GDPR personal data", "HIPAA identifier (C) dates (birth date)")},
    "date": {"label": "a full date (day, month, year)", "direct": False,
             "regulations": ("GDPR personal data when about a person", "HIPAA identifier (C) dates related to an individual")},
    "email": {"label": "an e-mail address", "direct": True,
              "regulations": ("GDPR personal data", "HIPAA identifier (F) e-mail address")},
    "phone": {"label": "a phone number", "direct": True,
              "regulations": ("GDPR personal data", "HIPAA identifier (D) telephone number")},
    "street_address": {"label": "a street address", "direct": True,
                       "regulations": ("GDPR personal data", "HIPAA identifier (B) geographic subdivision smaller than a state")},
    "postcode": {"label": "a ZIP code or postcode", "direct": False,
                 "regulations": ("GDPR personal data when about a person",
                                 "HIPAA identifier (B) ZIP code (only its first 3 digits may stay, and only for large areas)")},
    "ip_address": {"label": "an IP address", "direct": True,
                   "regulations": ("GDPR personal data (CJEU C-582/14 Breyer)", "HIPAA identifier (O) IP address")},
    "credit_card": {"label": "a payment card number (Luhn-valid)", "direct": True,
                    "regulations": ("GDPR personal data", "HIPAA identifier (J) account number", "PCI DSS cardholder data")},
    "free_text": {"label": "free text (may hold any identifier)", "direct": True,
                  "regulations": ("GDPR personal data and possibly special category", "HIPAA: may hold any of the 18 identifiers")},
    "unique_key": {"label": "a near-unique key (record or person ID)", "direct": True,
                   "regulations": ("GDPR personal data (pseudonymous identifier)", "HIPAA identifier (R) other unique identifying number")},
    "special_category": {"label": "a special category of personal data (health, ethnicity, religion ...)", "direct": False,
                         "regulations": ("GDPR special category (Art. 9)",)},
}
DIRECT_KINDS = tuple(k for k, v in KINDS.items() if v["direct"])

# Column-name hints: a regular expression on the normalized name (lower case, '_' between words).
_NAME_HINTS: dict[str, str] = {
    "ssn": r"(^|_)(ssn|social_security(_number|_no)?|sozialversicherungsnummer)($|_)",
    "national_id": r"(^|_)(national_id|nin|nino|passport(_no|_number)?|tax_id|tin|nhs(_number)?|personnummer|bsn|insee|"
                   r"id_card|driver(s)?_licen[cs]e)($|_)",
    "date_of_birth": r"(^|_)(dob|date_of_birth|birth_?date|birthday|born(_on)?|geburtsdatum)($|_)",
    "email": r"(^|_)(e_?mail|mail(_address)?)($|_)",
    "phone": r"(^|_)(phone|telephone|tel|mobile|cell|fax)(_?(no|number|nr))?($|_)",
    "street_address": r"(^|_)(address|street|addr|address_line_?\d?|home_address)($|_)",
    "postcode": r"(^|_)(zip|zip_?code|postcode|postal_?code|plz)($|_)",
    "ip_address": r"(^|_)(ip|ip_?address|ipv4|ipv6)($|_)",
    "credit_card": r"(^|_)(credit_?card|card_?(no|number)|cc_?(no|number)|pan|iban)($|_)",
    "person_name": r"(^|_)(name|first_?name|last_?name|surname|given_?name|family_?name|full_?name|patient(_name)?|"
                   r"customer_name|forename)($|_)|^(first|last|fname|lname|given|family|middle)$",
    "free_text": r"(^|_)(comment|comments|note|notes|description|text|remarks|free_text|message)($|_)",
    "unique_key": r"(^|_)(id|uuid|guid|key|record_?id|patient_?id|customer_?id|user_?id|mrn|account(_?(no|number))?)($|_)",
    "special_category": r"(^|_)(race|ethnic(ity)?|religion|religious|health|diagnosis|disease|condition|medical|"
                        r"sexual_orientation|sexuality|political|party|trade_union|union_member(ship)?|genetic|biometric|"
                        r"disability|hiv|pregnan(t|cy))($|_)",
}


@dataclass(frozen=True)
class Detection:
    """One column classified as an identifier or personal data.

    Attributes:
        column: The column's name.
        kind: One of :data:`KINDS` (e.g. ``"ssn"``, ``"email"``).
        confidence: In ``[0, 1]``: the share of sampled values that match, raised by a telling
            column name (a name alone gives at most 0.6).
        direct: Whether it identifies a person on its own (dropped from synthesis by default).
        evidence: What matched, in words (never a value).
        regulations: The regulation categories it maps to.
    """

    column: str
    kind: str
    confidence: float
    direct: bool
    evidence: str
    regulations: tuple

    @property
    def label(self) -> str:
        """The kind in words (e.g. ``"a US social security number"``)."""
        return str(KINDS[self.kind]["label"])

    def to_dict(self) -> dict[str, object]:
        return {"column": self.column, "kind": self.kind, "label": self.label, "confidence": round(self.confidence, 3),
                "direct": self.direct, "evidence": self.evidence, "regulations": list(self.regulations)}



def _normalize(name: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def _name_hints(column: str) -> set[str]:
    norm = _normalize(column)
    return {kind for kind, pattern in _NAME_HINTS.items() if re.search(pattern, norm)}


def _years(values: list[str]) -> np.ndarray:
    years = []
    for v in values:
        m = re.search(r"(1[89]|20)\d\d", v)
        if m:
            years.append(int(m.group(0)))
    return np.array(years)


def _looks_like_birth_dates(values: list[str]) -> bool:
    """Dates whose years span decades and end well before today (of adults)."""
    import datetime

    years = _years(values)
    if len(years) < 0.9 * len(values) or not len(years):
        return False
    this_year = datetime.date.today().year
    return bool(np.percentile(years, 95) <= this_year - 15 and np.percentile(years, 95) - np.percentile(years, 5) >= 20)


def _sample(series: pd.Series, max_values: int, seed: int = 0) -> list[str]:
    values = series.dropna()
    if len(values) > max_values:
        values = values.sample(max_values, random_state=seed)
    return [str(v).strip() for v in values if str(v).strip()]


def detect_column(series: pd.Series, name: str | None = None, *, max_values: int = 2000) -> list[Detection]:
    """Detections for one column (best first; usually zero or one).

    Args:
        series: The column's values (any dtype; compared by their text form).
        name: The column's name (default ``series.name``).
        max_values: Values examined (a fixed-seed sample of the non-missing ones).
    """
    column = str(series.name if name is None else name)
    hints = _name_hints(column)
    values = _sample(series, max_values)
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if not len(values):
        n_distinct = 0
    elif numeric or isinstance(series.dtype, pd.CategoricalDtype):
        n_distinct = int(series.nunique(dropna=True))
    else:
        n_distinct = int(series.dropna().astype(str).nunique())
    n_nonnull = int(series.notna().sum())
    distinct_ratio = n_distinct / n_nonnull if n_nonnull else 0.0
    found: dict[str, tuple[float, str]] = {}

    def add(kind: str, confidence: float, evidence: str) -> None:
        confidence = float(min(1.0, confidence))
        if confidence > found.get(kind, (0.0, ""))[0]:
            found[kind] = (confidence, evidence)

    if values:
        for kind, test in PATTERNS.items():
            if numeric and not (kind in hints and kind in ("postcode", "phone", "credit_card")):
                continue  # numbers are phone/card/ZIP numbers only under a telling name
            share = share_matching(values, test)
            if kind == "person_name" and (share < 0.6 or n_distinct < (2 if kind in hints else min(50, 0.5 * n_nonnull))):
                continue  # a few repeated words ("White", "Sales") are categories, not names, unless the column says names
            if kind == "postcode" and "postcode" not in hints and (numeric or share < 0.95 or n_distinct < 20):
                continue  # five-digit numbers are ZIP codes only with a telling name or text form
            if share >= 0.5:
                bonus = 0.2 if kind in hints or (kind == "date" and "date_of_birth" in hints) else 0.0
                add(kind, share + bonus, f"{share:.0%} of sampled values look like {KINDS[kind]['label']}"
                    + (" and the column name says so" if bonus else ""))
        for kind in hints & set(HINTED_PATTERNS):
            share = share_matching(values, HINTED_PATTERNS[kind])
            if kind == "unique_key":
                if distinct_ratio >= 0.9 and n_nonnull >= 10:
                    add(kind, 0.5 + 0.5 * distinct_ratio, f"the name says key/ID and {distinct_ratio:.0%} of values are distinct")
            elif share >= 0.5:
                add(kind, 0.3 + 0.7 * share, f"the name says {KINDS[kind]['label']} and {share:.0%} of sampled values fit")
        if "date" in found and "date_of_birth" in hints:
            conf, _ = found.pop("date")
            add("date_of_birth", conf, "full dates in a column named like a birth date")
        elif "date" in found and _looks_like_birth_dates(values):
            conf, _ = found.pop("date")
            add("date_of_birth", 0.8 * conf, "full dates spread over decades, all long past: birth dates")
        if not numeric and not found:
            words = np.mean([len(v.split()) for v in values])
            length = np.mean([len(v) for v in values])
            if words >= 5 and length >= 30 and distinct_ratio >= 0.5:
                add("free_text", min(1.0, 0.5 + words / 20), f"values average {words:.0f} words and are mostly distinct")
            elif n_nonnull >= 20 and distinct_ratio >= 0.95:
                conf = 0.9 if share_matching(values, lambda v: bool(UUID.match(v))) > 0.9 else 0.5 + 0.4 * distinct_ratio
                add("unique_key", conf, f"{distinct_ratio:.0%} of values are distinct: a key, not a category")
        if numeric and "unique_key" not in found and n_nonnull >= 20 and distinct_ratio >= 0.99:
            ints = series.dropna().to_numpy(float)
            if np.all(np.mod(ints, 1) == 0) and (ints.max() - ints.min() + 1) <= 1.1 * n_nonnull:
                add("unique_key", 0.8, "distinct whole numbers covering a consecutive range: a row number or sequential ID")
    for kind in hints - set(found):
        if kind == "special_category":
            add(kind, 0.6, "the column name names a special category of personal data")
        elif kind in ("free_text",) and not numeric:
            add(kind, 0.4, f"the column name suggests {KINDS[kind]['label']}")
        elif kind not in ("unique_key",) and not values:
            add(kind, 0.4, f"the column name suggests {KINDS[kind]['label']} (no values to check)")
    out = [Detection(column, kind, conf, bool(KINDS[kind]["direct"]), evidence, tuple(KINDS[kind]["regulations"]))  # type: ignore[arg-type]
           for kind, (conf, evidence) in found.items()]
    return sorted(out, key=lambda d: -d.confidence)


def detect_identifiers(df: pd.DataFrame, *, columns: Iterable[str] | None = None, min_confidence: float = 0.5,
                       max_values: int = 2000) -> list[Detection]:
    """The best detection of each column of ``df`` that looks like an identifier or personal data.

    Args:
        df: The table (private: the result is for the data owner, not for release).
        columns: Only these columns (default: all).
        min_confidence: Detections below it are left out.
        max_values: Values examined per column (a fixed-seed sample).

    Returns:
        One :class:`Detection` per flagged column, in table order.
    """
    names = list(df.columns) if columns is None else list(columns)
    out = []
    for name in names:
        best = detect_column(df[name], str(name), max_values=max_values)
        if best and best[0].confidence >= min_confidence:
            out.append(best[0])
    return out
