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

import itertools
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

#: Full-width digits map one character to one, so a match in the mapped text has the same span
#: in the original; full-width signs are in the patterns themselves.
_HALFWIDTH: Final = str.maketrans({0xFF10 + d: 0x30 + d for d in range(10)})
_WIDE_DIGITS: Final = "\uff10-\uff19"
_WIDE: Final = re.compile(f"[{_WIDE_DIGITS}]")
_SEP: Final = "[ \\-\uff0d\u3000]"
_EDGE_BEFORE: Final = r"(?<![0-9A-Za-z])(?<![0-9]\.)"  # not inside a word, a number, a decimal
_EDGE_AFTER: Final = r"(?![0-9A-Za-z])"
_ID_18: Final = rf"(?P<id18>(?P<a>\d{{6}}){_SEP}?(?P<b>\d{{8}}){_SEP}?(?P<c>\d{{3}}[0-9Xx]))"
_ID_15: Final = r"(?P<id15>\d{15})"
_MOBILE: Final = (
    rf"(?P<mobile>(?:[+\uff0b]?86{_SEP}?)?"
    rf"(?P<m1>1[3-9]\d){_SEP}?(?P<m2>\d{{4}}){_SEP}?(?P<m3>\d{{4}}))"
)
_LANDLINE: Final = (
    rf"(?P<landline>(?:[(\uff08](?P<area1>0\d{{2,3}})[)\uff09]|(?P<area2>0\d{{2,3}})){_SEP}?"
    r"(?P<local>[2-9]\d{6,7})(?:[-\uff0d]\d{1,5})?)"
)
#: One pass finds every candidate: ID numbers first, as at one place the first alternative
#: that fits is taken; a candidate ID number that turns out not to be one is looked at again
#: for a phone starting there (`_PHONE`).
_ANY: Final = re.compile(
    _EDGE_BEFORE + f"(?:{_ID_18}|{_ID_15}|{_MOBILE}|{_LANDLINE})" + _EDGE_AFTER, re.ASCII
)
_PHONE: Final = re.compile(_EDGE_BEFORE + f"(?:{_MOBILE}|{_LANDLINE})" + _EDGE_AFTER, re.ASCII)
#: Every number found here has a run of 4 digits (a mobile written 138 1234 5678): text
#: without one is passed over at once (an organisation's name, a word, most addresses).
_DIGIT_RUN: Final = re.compile(r"\d{4}")
#: Every number found here lies within one run of the characters a number may hold (digits,
#: ASCII or full-width, separators, signs, brackets, the X of an ID number) that holds at least
#: 10 digits (the shortest number, a landline: a 3-digit area code and 7 digits): only such runs
#: are searched (the rest of a row, its names, words and dates, never is), each up to the
#: character after it, which decides whether a number ends there. A number's look back
#: (`_EDGE_BEFORE`) still sees the text before the run. Runs are found whole (at least 10 such
#: characters: one character class, the regex engine's fast loop) and their digits counted
#: after (`_runs`); a pattern that counted the digits itself backtracked over every shorter run
#: of digits (a house number, the 12345 in a name): 3.4 against 2.0 µs a market-supervision row.
_NUMBER_CHARS: Final = " \\-\uff0d\u3000+\uff0b(\uff08)\uff09Xx"
_DIGITS: Final = f"0-9{_WIDE_DIGITS}"
_RUN: Final = re.compile(f"[{_DIGITS}{_NUMBER_CHARS}]{{10,}}")
_NO_DIGITS: Final = str.maketrans(dict.fromkeys([*range(0x30, 0x3A), *range(0xFF10, 0xFF1A)]))


def _runs(text: str) -> Iterator[re.Match[str]]:
    """The runs of `text` that may hold a number (see `_RUN`), in order."""
    for run in _RUN.finditer(text):
        chars = run.group()
        if len(chars) - len(chars.translate(_NO_DIGITS)) >= 10:
            yield run


@dataclass(frozen=True)
class PersonalNumber:
    """An ID number or phone found in a text: where it is, what kind, and how it is shown."""

    start: int
    end: int
    kind: PersonalKind
    masked: str


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _valid_18(body: str) -> bool:
    if not _real_date(int(body[6:10]), int(body[10:12]), int(body[12:14])):
        return False  # most would-be ID numbers (all-digit credit codes) end here, cheaply
    try:
        validate_id_number(body)
    except InvalidCode:
        return False
    return True


def _valid_15(number: str) -> bool:
    return _real_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))


def _landline_mask(area: str, local: str) -> str:
    return f"{area}-{'*' * (len(local) - 2)}{local[-2:]}"


def _number(m: re.Match[str]) -> PersonalNumber | None:
    """What a match of `_ANY` or `_PHONE` found, or None for a would-be ID number."""
    kind = m.lastgroup
    if kind == "id18":
        body = m["a"] + m["b"] + m["c"]
        valid = _valid_18(body)
        return (
            PersonalNumber(m.start(), m.end(), "id_number", mask_id_number(body)) if valid else None
        )
    if kind == "id15":
        valid = _valid_15(m["id15"])
        masked = mask_id_number(m["id15"])
        return PersonalNumber(m.start(), m.end(), "id_number", masked) if valid else None
    if kind == "mobile":
        masked = mask_phone(m["m1"] + m["m2"] + m["m3"])
        return PersonalNumber(m.start(), m.end(), "mobile", masked)
    area = m["area1"] or m["area2"]
    return PersonalNumber(m.start(), m.end(), "landline", _landline_mask(area, m["local"]))


def find_personal(text: str) -> list[PersonalNumber]:
    """The ID numbers and phones in `text`, in order, none overlapping (an ID number wins over a
    phone found inside the same digits)."""
    if _DIGIT_RUN.search(text) is None:
        return []
    runs = _runs(text)
    first = next(runs, None)
    if first is None:
        return []
    # Full-width digits map one to one: the runs found in `text` stand where they are in `mapped`.
    mapped = text.translate(_HALFWIDTH) if _WIDE.search(text) else text
    found: list[PersonalNumber] = []
    for run in itertools.chain((first,), runs):
        # up to the character after the run, for the look ahead (`_EDGE_AFTER`)
        at, end = run.start(), run.end() + 1
        while (m := _ANY.search(mapped, at, end)) is not None:
            number = _number(m)
            if number is None:  # not an ID number after all: a phone may still start there
                phone = _PHONE.match(mapped, m.start(), end)
                number = _number(phone) if phone is not None else None
            if number is None:
                at = m.start() + 1
            else:
                found.append(number)
                at = number.end
    return found


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
