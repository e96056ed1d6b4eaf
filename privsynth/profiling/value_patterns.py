"""What one value looks like: the patterns :mod:`~privsynth.profiling.identifiers` tests a
column's values against (e-mail addresses, social security and national numbers, payment cards
passing the Luhn check, IP addresses, phone numbers, dates, street addresses, postcodes, person
names from Faker's locales).

Example:
    >>> PATTERNS["email"]("ann@example.org"), PATTERNS["credit_card"]("4111 1111 1111 1111")
    (True, True)
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

import numpy as np

__all__ = ["PATTERNS", "HINTED_PATTERNS", "UUID", "share_matching", "luhn_valid", "known_names"]

_EMAIL = re.compile(r"^[\w.+'-]+@[\w-]+(\.[\w-]+)+$")
_SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
_SSN_DIGITS = re.compile(r"^(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4}$")
_UK_NINO = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-Z]$", re.I)
_PASSPORT_LIKE = re.compile(r"^[A-Z]{1,3}\d{6,9}$|^\d{9,12}$", re.I)
_PHONE = re.compile(r"^(\+|00)?[\d\s().\-x]{7,25}$")
_DATE_PATTERNS = (
    re.compile(r"^(1[89]|20)\d\d[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])([ T]\d\d:\d\d(:\d\d(\.\d+)?)?)?$"),
    re.compile(r"^(0?[1-9]|[12]\d|3[01])[-/.](0?[1-9]|1[0-2])[-/.](1[89]|20)\d\d$"),
    re.compile(r"^(0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])[-/.](1[89]|20)\d\d$"),
)
_US_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
_POSTCODES = (
    re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$", re.I),  # UK
    re.compile(r"^[A-Z]\d[A-Z] ?\d[A-Z]\d$", re.I),  # Canada
    re.compile(r"^\d{4} ?[A-Z]{2}$", re.I),  # Netherlands
    re.compile(r"^[A-Z]\d[\dW] ?(?=[A-Z\d]*[A-Z])[A-Z\d]{4}$", re.I),  # Ireland (Eircode; not a letter and six digits)
)
_SHORT_POSTCODE = re.compile(r"^\d{4,5}$")  # Australia, Europe: only under a telling column name
#: A UUID, with or without its hyphens.
UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ'’-]+")
_NAME_LOCALES = ("en_US", "en_GB", "en_IE", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL", "sv_SE", "en_IN")
_ADDRESS_LOCALES = ("en_US", "en_GB", "en_AU", "en_CA")
#: Street words that come before the name (French, Italian, Spanish, Portuguese) or end it (Dutch, German).
_STREET_WORDS = frozenset({
    "rue", "boulevard", "avenue", "chemin", "allée", "impasse", "place", "quai", "route", "via", "viale", "vicolo", "piazza",
    "strada", "corso", "largo", "incrocio", "contrada", "calle", "plaza", "avenida", "paseo", "camino", "cuesta", "cañada",
    "vial", "ronda", "carrera", "rambla", "travesía", "rua", "travessa", "praça", "alameda", "estrada",
})
_STREET_ENDINGS = re.compile(r"\w+-?(straat|laan|weg|plein|gracht|steeg|dijk|kade|singel|boulevard|straße|strasse|str\.|gasse|"
                             r"platz|allee|ring|damm|ufer)(?!\w)", re.I)


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check of payment card numbers.

    Example:
        >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
        (True, False)
    """
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@lru_cache(maxsize=1)
def known_names() -> frozenset:
    """Lower-cased first and last names from Faker's person providers of several locales."""
    import importlib

    names: set[str] = set()
    for locale in _NAME_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:  # pragma: no cover - a Faker without that locale
            continue
        for attr in ("first_names", "first_names_male", "first_names_female", "last_names"):
            for name in getattr(provider, attr, ()) or ():
                if isinstance(name, str) and name.isalpha() and len(name) > 1:
                    names.add(name.lower())
    return frozenset(names)


@lru_cache(maxsize=1)
def _street_suffixes() -> frozenset:
    """English street suffixes from Faker's address providers, and common abbreviations."""
    import importlib

    words = {"st", "ave", "rd", "ln", "dr", "blvd", "ct", "pl", "hwy", "apt", "suite"}
    for locale in _ADDRESS_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.address.{locale}").Provider
        except ImportError:  # pragma: no cover
            continue
        words |= {s.lower() for s in getattr(provider, "street_suffixes", ()) or ()}
    return frozenset(words)


def share_matching(values: list[str], test) -> float:
    """The share of ``values`` that pass ``test`` (0 for none)."""
    return float(np.mean([bool(test(v)) for v in values])) if values else 0.0


def _is_phone(v: str) -> bool:
    if not _PHONE.match(v):
        return False
    digits = sum(ch.isdigit() for ch in v)
    separated = any(ch in v for ch in " ()-.+") or v.startswith("00")
    return 7 <= digits <= 15 and separated and not _is_date(v) and not _SSN.match(v)


def _is_ip(v: str) -> bool:
    if not (("." in v and v.count(".") == 3) or ":" in v):
        return False
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return False
    return True


def _is_card(v: str) -> bool:
    digits = re.sub(r"[\s-]", "", v)
    return 13 <= len(digits) <= 19 and digits.isdigit() and luhn_valid(digits)


def _is_date(v: str) -> bool:
    return any(p.match(v) for p in _DATE_PATTERNS)


_UNIT = re.compile(r"^(flat|studio|apt\.?|apartment|suite|unit|room)\s+\w+$", re.I)


def _is_address(v: str) -> bool:
    """A house number or a flat/suite line, then words ending in an English street suffix
    (Faker's lists); or a number with a street word of another language (``rue``, ``via``,
    ``calle`` ... first, ``...straat``, ``...straße`` ... as an ending)."""
    if any(ch.isdigit() for ch in v):
        lowered = [w.lower().strip(".,") for w in v.split()]
        if len(lowered) >= 2 and (_STREET_WORDS & set(lowered) or _STREET_ENDINGS.search(v)):
            return True
    words = [w.lower().rstrip(".,") for w in v.split()]
    if len(words) < 3 or not any(w in _street_suffixes() for w in words[1:]):
        return False
    lines = v.splitlines()
    return words[0][:1].isdigit() or words[-1][:1].isdigit() or bool(_UNIT.match(lines[0].strip()))


def _is_person_name(v: str) -> bool:
    """A name from the first/last-name lists, in any case (``miguel hernandez``, ``HERNANDEZ``)."""
    words = _WORD.findall(v)
    if not 1 <= len(words) <= 4 or any(ch.isdigit() for ch in v):
        return False
    names = known_names()
    hits = sum(w.lower().strip("'’-") in names for w in words)
    return hits >= max(1, len(words) - 1)


def _is_postcode(v: str) -> bool:
    return bool(_US_ZIP.match(v) or any(p.match(v) for p in _POSTCODES))


def _is_national_id(v: str) -> bool:
    return bool(_UK_NINO.match(v) or _PASSPORT_LIKE.match(v))


PATTERNS = {
    "email": lambda v: bool(_EMAIL.match(v)),
    "ssn": lambda v: bool(_SSN.match(v)),
    "national_id": lambda v: bool(_UK_NINO.match(v)),
    "credit_card": _is_card,
    "ip_address": _is_ip,
    "phone": _is_phone,
    "date": _is_date,
    "street_address": _is_address,
    "person_name": _is_person_name,
    "postcode": _is_postcode,
}
# A name hint turns a weaker value pattern into a detection.
HINTED_PATTERNS = {
    "ssn": lambda v: bool(_SSN.match(v) or _SSN_DIGITS.match(v)),
    "national_id": _is_national_id,
    "postcode": lambda v: bool(_is_postcode(v) or _SHORT_POSTCODE.match(v)),
    "date_of_birth": _is_date,
    "unique_key": lambda v: True,
}
