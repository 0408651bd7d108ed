"""Find and mask ID numbers and phone numbers typed into free text (an address, a note, a name).

A person's ID number or phone belongs in the fields made for it (kept as a keyed hash and a
mask, `identity.py`), never raw in an address, a reason or a spreadsheet's 备注 column. Text
that may hold one passes through `mask_personal` on the way in, so that the store, the API, the
audit log and the events only ever see the masked form:

* resident ID numbers: 18 characters whose GB 11643 check character matches (the last may be
  X) and whose positions 7-14 are a real birth date (an all-digit credit code may match the
  check character, never both), and the legacy 15-digit numbers whose positions 7-12 are a real
  date (yymmdd);
* mainland mobile numbers (1[3-9] and 9 digits, `+86`/`86` and 3-4-4 spacing or hyphens
  allowed) and landlines with an area code (010, 02x, 0xxx; 7 or 8 digits; `0352-1234567`,
  `(0352)1234567`, an extension kept masked with them).

A number counts only as a whole token: digits or ASCII letters right before or after it make it
part of something else (a credit code, a longer number, a decimal's fraction). Full-width digits
count like ASCII.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from libs.common.validators import InvalidCode, mask_id_number, mask_phone, validate_id_number

__all__ = [
    "PersonalNumber",
    "find_personal",
    "has_personal",
    "mask_attributes",
    "mask_personal",
]

PersonalKind = Literal["id_number", "mobile", "landline"]

#: Full-width digits, plus, hyphen, parentheses and the ideographic space map one character to
#: one, so a match in the mapped text has the same span in the original.
_HALFWIDTH: Final = str.maketrans(
    {
        **{0xFF10 + d: 0x30 + d for d in range(10)},
        0xFF0B: ord("+"),
        0xFF0D: ord("-"),
        0xFF08: ord("("),
        0xFF09: ord(")"),
        0x3000: ord(" "),
    }
)
_EDGE_BEFORE: Final = r"(?<![0-9A-Za-z])(?<![0-9]\.)"  # not inside a word, a number, a decimal
_EDGE_AFTER: Final = r"(?![0-9A-Za-z])"
_ID_18: Final = re.compile(
    _EDGE_BEFORE + r"(\d{6})[ -]?(\d{8})[ -]?(\d{3}[0-9Xx])" + _EDGE_AFTER, re.ASCII
)
_ID_15: Final = re.compile(_EDGE_BEFORE + r"\d{15}" + _EDGE_AFTER, re.ASCII)
_MOBILE: Final = re.compile(
    _EDGE_BEFORE + r"(?:\+?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})" + _EDGE_AFTER, re.ASCII
)
_LANDLINE: Final = re.compile(
    _EDGE_BEFORE + r"(?:\((0\d{2,3})\)|(0\d{2,3}))[ -]?([2-9]\d{6,7})(?:-\d{1,5})?" + _EDGE_AFTER,
    re.ASCII,
)
#: Text with fewer digits than the shortest number found here is passed over at once.
_MIN_DIGITS: Final = 10
_DIGIT_RUN: Final = re.compile(r"\d")


@dataclass(frozen=True)
class PersonalNumber:
    """An ID number or phone found in a text: where it is, what kind, and how it is shown."""

    start: int
    end: int
    kind: PersonalKind
    masked: str


def _valid_18(body: str) -> bool:
    try:
        validate_id_number(body)
    except InvalidCode:
        return False
    return True


def _valid_15(number: str) -> bool:
    year, month, day = int(number[6:8]), int(number[8:10]), int(number[10:12])
    try:
        date(1900 + year, month, day)
    except ValueError:
        return False
    return True


def _landline_mask(area: str, local: str) -> str:
    return f"{area}-{'*' * (len(local) - 2)}{local[-2:]}"


def _candidates(text: str) -> Iterator[PersonalNumber]:
    for m in _ID_18.finditer(text):
        body = "".join(m.groups())
        if _valid_18(body):
            yield PersonalNumber(m.start(), m.end(), "id_number", mask_id_number(body))
    for m in _ID_15.finditer(text):
        if _valid_15(m.group()):
            yield PersonalNumber(m.start(), m.end(), "id_number", mask_id_number(m.group()))
    for m in _MOBILE.finditer(text):
        yield PersonalNumber(m.start(), m.end(), "mobile", mask_phone("".join(m.groups())))
    for m in _LANDLINE.finditer(text):
        area = m.group(1) or m.group(2)
        yield PersonalNumber(m.start(), m.end(), "landline", _landline_mask(area, m.group(3)))


def find_personal(text: str) -> list[PersonalNumber]:
    """The ID numbers and phones in `text`, in order, none overlapping (an ID number wins over a
    phone found inside the same digits)."""
    if len(_DIGIT_RUN.findall(text)) < _MIN_DIGITS:
        return []
    mapped = text.translate(_HALFWIDTH)
    found: list[PersonalNumber] = []
    for candidate in _candidates(mapped):  # ID numbers first: they take their span
        if all(candidate.end <= f.start or candidate.start >= f.end for f in found):
            found.append(candidate)
    return sorted(found, key=lambda f: f.start)


def has_personal(text: str) -> bool:
    """Whether `text` holds an ID number or a phone."""
    return bool(find_personal(text))


def mask_personal(text: str) -> str:
    """`text` with every ID number and phone in it masked (140212********123X, 138****5678,
    0352-*****67); text without any comes back as it is (the same object)."""
    found = find_personal(text)
    if not found:
        return text
    parts: list[str] = []
    at = 0
    for number in found:
        parts += [text[at : number.start], number.masked]
        at = number.end
    parts.append(text[at:])
    return "".join(parts)


def mask_attributes(obj: object, *names: str) -> None:
    """Mask, in place, each named text attribute of `obj` (None left alone); for the
    `__post_init__` of a domain object, frozen or not, so that whichever way it is made (a
    request, an import, a row read back) it never holds a raw number typed into free text."""
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, str):
            masked = mask_personal(value)
            if masked is not value:
                object.__setattr__(obj, name, masked)
