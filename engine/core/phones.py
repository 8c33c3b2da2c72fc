"""Phone numbers: read with Google's libphonenumber (the ``phonenumbers`` package), never by hand.

Two written forms leave the engine:

- E.164, ``+61412345678``: what GHL stores and matches on (GHL's contact ``phone``).
- MSISDN, ``61412345678``: the same digits without ``+``, as SMSGlobal's API v2 writes
  ``destination``, ``origin`` and ``msisdn``.

A number written with its country (``+44 (0)20 7946 0018``, ``61412345678``) needs nothing else.
A national number (``0412 345 678``, ``(415) 555-0123``) needs a region, an ISO 3166-1 alpha-2
code such as ``AU``; without one it is refused with :class:`PhoneError`, never guessed.

Digits alone (``61412345678``) are SMSGlobal's MSISDN form: country code first. With a region
known they are read as a national number first; when both readings make a number and they
differ, the number is ambiguous and refused.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

_DIGITS_ONLY = re.compile(r"^\d+$")
_NOT_DIALLABLE = re.compile(r"[^\d+()\-.\s/]")


class PhoneError(ValueError):
    """A value that is not one phone number; ``message`` says why and how to write it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def region_code(value: Any) -> str | None:
    """An ISO 3166-1 alpha-2 region (``"au"`` → ``"AU"``) that libphonenumber knows, or None
    for an empty value. Raises :class:`PhoneError` for a code it does not know."""
    text = str(value or "").strip().upper()
    if not text:
        return None
    if text not in phonenumbers.SUPPORTED_REGIONS:
        raise PhoneError(f"{value!r} is not a two-letter country code (ISO 3166-1, e.g. AU, GB, US)")
    return text


def _plausible(number: phonenumbers.PhoneNumber) -> bool:
    """Valid, or at least of a length and shape its country's numbers have (libphonenumber's
    general pattern): ranges kept for drama and tests, like ``+44 7700 900123``, are not
    assigned but are numbers."""
    if phonenumbers.is_valid_number(number):
        return True
    if not phonenumbers.is_possible_number(number):
        return False
    region = phonenumbers.region_code_for_country_code(number.country_code)
    meta = (phonenumbers.PhoneMetadata.metadata_for_region(region)
            or phonenumbers.PhoneMetadata.metadata_for_nongeo_region(number.country_code))
    pattern = meta.general_desc.national_number_pattern if meta and meta.general_desc else None
    return bool(pattern and re.fullmatch(pattern, phonenumbers.national_significant_number(number)))


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    return number if _plausible(number) else None


def _best(candidates: list[phonenumbers.PhoneNumber]) -> list[phonenumbers.PhoneNumber]:
    """The readings that make a valid number, else all possible ones (drama and test ranges such
    as ``+44 7700 900123`` are possible but not assigned)."""
    valid = [n for n in candidates if phonenumbers.is_valid_number(n)]
    return valid or candidates


def parse(value: Any, region: str | None = None) -> phonenumbers.PhoneNumber:
    """One phone number from text as people and APIs write it.

    :param value: ``+61 412 345 678``, ``0412 345 678``, ``61412345678``, ``+44 (0)20 …``.
    :param region: ISO 3166-1 alpha-2 code for numbers written without their country.
    :raises PhoneError: not a phone number, a national number with no region, or digits that
        read as two different numbers.
    """
    text = str(value if value is not None else "").strip()
    if not text or _NOT_DIALLABLE.search(text) or not re.search(r"\d", text):
        raise PhoneError(f"{str(value)!r} is not a phone number: write it in international form, "
                         "e.g. +61412345678")
    region = region_code(region)
    if text.startswith("+"):
        found = _parse(text, None)
        if found is None:
            raise PhoneError(f"{text!r} is not a phone number in international form "
                             "(+, country code, number)")
        return found
    digits_only = bool(_DIGITS_ONLY.match(text))
    candidates = []
    if region:
        national = _parse(text, region)
        if national is not None:
            candidates.append(national)
    if digits_only and not text.startswith("0"):
        international = _parse("+" + text, None)
        if international is not None:
            candidates.append(international)
    candidates = _best(candidates)
    e164s = {phonenumbers.format_number(n, PhoneNumberFormat.E164) for n in candidates}
    if len(e164s) == 1:
        return candidates[0]
    if len(e164s) > 1:
        raise PhoneError(f"{text!r} is ambiguous: it reads as {' or '.join(sorted(e164s))}; "
                         "write it in international form with +")
    if region is None:
        raise PhoneError(f"{text!r} has no country code and no country is known to read it: "
                         "write it as +<country code><number>, or set the region (e.g. AU)")
    raise PhoneError(f"{text!r} is not a phone number in {region} or in international form")


def e164(value: Any, region: str | None = None) -> str:
    """``value`` as E.164 (``+61412345678``), GHL's form. Raises :class:`PhoneError`."""
    return phonenumbers.format_number(parse(value, region), PhoneNumberFormat.E164)


def msisdn(value: Any, region: str | None = None) -> str:
    """``value`` as an MSISDN (``61412345678``), SMSGlobal's form. Raises :class:`PhoneError`."""
    return e164(value, region)[1:]


def needs_region(value: Any) -> bool:
    """Whether ``value`` looks like a number written without its country, so reading it needs
    a region (text that is no number at all needs none: it is refused as it is)."""
    text = str(value if value is not None else "").strip()
    if not text or text.startswith("+") or _NOT_DIALLABLE.search(text) or not re.search(r"\d", text):
        return False
    try:
        parse(value, None)
    except PhoneError:
        return True
    return False


def same_number(a: Any, b: Any, region: str | None = None) -> bool:
    """Whether two written numbers are the same phone number (``61412345678`` and
    ``+61 412 345 678`` are); False when either is not a number."""
    try:
        return e164(a, region) == e164(b, region)
    except PhoneError:
        return False
