"""Validate, normalise and mask Chinese identifiers: credit codes, ID numbers, phones, regions.

Everything here is pure Python without I/O so it can be used from any service:

* unified social credit codes (统一社会信用代码, GB 32100-2015);
* resident identity numbers (公民身份号码, GB 11643-1999) and mainland mobile numbers,
  which are personal data: error messages never echo them, and mask helpers are provided;
* statistical division codes (统计用区划代码) used as organisational scopes.

Every validator raises :class:`InvalidCode` (a ``ValueError``) with a short English ``reason``.
"""

from __future__ import annotations

import re
from datetime import date
from operator import mul
from typing import Final, Literal

__all__ = [
    "CREDIT_CODE_CHARSET",
    "InvalidCode",
    "RegionLevel",
    "canonical_region_code",
    "credit_code_check_char",
    "credit_code_division",
    "id_number_birth_date",
    "id_number_check_char",
    "is_within",
    "mask_id_number",
    "mask_phone",
    "normalize_credit_code",
    "organization_code_check_char",
    "pad_region_code",
    "region_ancestors",
    "region_level",
    "validate_credit_code",
    "validate_id_number",
    "validate_phone",
    "validate_region_code",
]

RegionLevel = Literal["province", "city", "county", "township", "village"]

_MAX_ECHO: Final = 40
"""Longest (non-sensitive) input echoed back in an error message."""


class InvalidCode(ValueError):
    """A code failed validation.

    ``reason`` is a short human-readable English explanation and ``field`` names the kind of
    code. Only non-sensitive inputs (credit codes, region codes) are echoed in ``str(exc)``;
    ID numbers and phone numbers never are.
    """

    reason: str
    field: str

    def __init__(self, reason: str, *, field: str = "code", value: str | None = None) -> None:
        self.reason = reason
        self.field = field
        message = f"invalid {field}: {reason}"
        if value is not None:
            shown = value if len(value) <= _MAX_ECHO else value[:_MAX_ECHO] + "..."
            message = f"{message} ({shown!r})"
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------

_FULLWIDTH_TO_ASCII: Final[dict[int, int]] = {
    **{codepoint: codepoint - 0xFEE0 for codepoint in range(0xFF01, 0xFF5F)},
    0x3000: 0x20,  # ideographic space
}
_DIGITS: Final = frozenset("0123456789")


def _to_halfwidth(text: str) -> str:
    """Map full-width ASCII variants (U+FF01..U+FF5E) and U+3000 to their ASCII forms."""
    return text.translate(_FULLWIDTH_TO_ASCII)


def _is_ascii_digits(text: str) -> bool:
    """True for a non-empty string of ASCII digits only (``str.isdigit`` accepts too much)."""
    return bool(text) and all(char in _DIGITS for char in text)


# --------------------------------------------------------------------------------------------
# Unified social credit code (GB 32100-2015)
# --------------------------------------------------------------------------------------------

CREDIT_CODE_CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of GB 32100; a character's value is its index (I, O, Z, S, V unused)."""

_CREDIT_CODE_VALUES: Final = {char: value for value, char in enumerate(CREDIT_CODE_CHARSET)}
_CREDIT_CODE_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_CODE_FIELD: Final = "credit_code"

_ORG_CODE_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CODE_VALUES: Final = {
    **{char: int(char) for char in "0123456789"},
    **{chr(ord("A") + offset): 10 + offset for offset in range(26)},
}


def normalize_credit_code(raw: str) -> str:
    """Convert full-width characters to ASCII, strip surrounding whitespace and upper-case."""
    return _to_halfwidth(raw).strip().upper()


_CREDIT_CHAR_CLASS: Final = f"[{CREDIT_CODE_CHARSET}]"
#: A normalised code that passes every check `validate_credit_code` makes before the check
#: character: 18 characters of the charset, positions 3-8 ASCII digits.
_CREDIT_CODE_FORM: Final = re.compile(
    f"{_CREDIT_CHAR_CLASS}{{2}}[0-9]{{6}}{_CREDIT_CHAR_CLASS}{{10}}"
)


def _check_char_of(first17: str) -> str:
    """The GB 32100 check character of 17 characters of the charset (their values weighed)."""
    weighted = sum(map(mul, map(_CREDIT_CODE_VALUES.__getitem__, first17), _CREDIT_CODE_WEIGHTS))
    check_value = 31 - weighted % 31
    return CREDIT_CODE_CHARSET[0 if check_value == 31 else check_value]


def credit_code_check_char(first17: str) -> str:
    """Return the GB 32100 check character (position 18) for the first 17 characters.

    The input is normalised first. Raises :class:`InvalidCode` if it is not 17 characters
    from :data:`CREDIT_CODE_CHARSET`.
    """
    body = normalize_credit_code(first17)
    if len(body) != 17:
        raise InvalidCode("must be 17 characters", field=_CREDIT_CODE_FIELD, value=body)
    if any(char not in _CREDIT_CODE_VALUES for char in body):
        raise InvalidCode(
            "contains a character outside the credit code charset",
            field=_CREDIT_CODE_FIELD,
            value=body,
        )
    return _check_char_of(body)


def validate_credit_code(raw: str) -> str:
    """Return the normalised unified social credit code or raise :class:`InvalidCode`.

    Checks the length (18), the charset, that positions 3-8 are a 6-digit administrative
    division code and the check character at position 18. The organisation code embedded at
    positions 9-17 (GB 11714) is deliberately not checked; see
    :func:`organization_code_check_char`.
    """
    code = normalize_credit_code(raw)
    if _CREDIT_CODE_FORM.fullmatch(code) and _check_char_of(code[:17]) == code[17]:
        return code  # a valid code in one pass (imports check one per row); else say what fails
    if not code:
        raise InvalidCode("must not be empty", field=_CREDIT_CODE_FIELD)
    if len(code) != 18:
        raise InvalidCode("must be 18 characters", field=_CREDIT_CODE_FIELD, value=code)
    if any(char not in _CREDIT_CODE_VALUES for char in code):
        raise InvalidCode(
            "contains a character outside the credit code charset",
            field=_CREDIT_CODE_FIELD,
            value=code,
        )
    if not _is_ascii_digits(code[2:8]):
        raise InvalidCode(
            "administrative division (positions 3-8) must be 6 digits",
            field=_CREDIT_CODE_FIELD,
            value=code,
        )
    if _check_char_of(code[:17]) != code[17]:
        raise InvalidCode("check character does not match", field=_CREDIT_CODE_FIELD, value=code)
    return code


def credit_code_division(code: str) -> str:
    """Return the 6-digit administrative division code (positions 3-8) of a valid credit code."""
    return validate_credit_code(code)[2:8]


def organization_code_check_char(first8: str) -> str:
    """Return the GB 11714 organisation code check character for its first 8 characters.

    Inside a credit code the organisation code occupies positions 9-17, so for a code ``c``
    ``organization_code_check_char(c[8:16])`` is expected to equal ``c[16]``. This is a helper
    only: :func:`validate_credit_code` does not enforce it.
    """
    body = _to_halfwidth(first8).strip().upper()
    if len(body) != 8:
        raise InvalidCode("must be 8 characters", field="organization_code", value=body)
    if any(char not in _ORG_CODE_VALUES for char in body):
        raise InvalidCode(
            "must contain only digits and letters A-Z", field="organization_code", value=body
        )
    total = sum(
        _ORG_CODE_VALUES[char] * weight
        for char, weight in zip(body, _ORG_CODE_WEIGHTS, strict=True)
    )
    check_value = 11 - total % 11
    if check_value == 10:
        return "X"
    if check_value == 11:
        return "0"
    return str(check_value)


# --------------------------------------------------------------------------------------------
# Resident identity number (GB 11643-1999) and mobile numbers: sensitive, never echoed
# --------------------------------------------------------------------------------------------

_ID_FIELD: Final = "id_number"
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS: Final = "10X98765432"
_ID_CHECK_ALLOWED: Final = frozenset("0123456789X")
_ID_MIN_BIRTH_YEAR: Final = 1900


def _normalize_id_number(raw: str) -> str:
    return _to_halfwidth(raw).strip().upper()


def id_number_check_char(first17: str) -> str:
    """Return the GB 11643 check character ("0"-"9" or "X") for the first 17 digits."""
    body = _normalize_id_number(first17)
    if len(body) != 17 or not _is_ascii_digits(body):
        raise InvalidCode("must be 17 digits", field=_ID_FIELD)
    total = sum(int(char) * weight for char, weight in zip(body, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def _birth_date(number: str, today: date) -> date:
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    try:
        born = date(year, month, day)
    except ValueError:
        raise InvalidCode("birth date is not a valid date", field=_ID_FIELD) from None
    if born.year < _ID_MIN_BIRTH_YEAR:
        raise InvalidCode("birth date is before 1900", field=_ID_FIELD)
    if born > today:
        raise InvalidCode("birth date is in the future", field=_ID_FIELD)
    return born


def validate_id_number(raw: str, *, today: date | None = None) -> str:
    """Return the normalised 18-character resident ID number or raise :class:`InvalidCode`.

    Normalisation converts full-width characters, strips whitespace and upper-cases a
    trailing ``x``. The birth date (positions 7-14) must be a real date between 1900-01-01 and
    ``today`` (default: ``date.today()``) inclusive, and the check character must match.
    Error messages never contain the number.
    """
    number = _normalize_id_number(raw)
    if not number:
        raise InvalidCode("must not be empty", field=_ID_FIELD)
    if len(number) != 18:
        raise InvalidCode("must be 18 characters", field=_ID_FIELD)
    if not _is_ascii_digits(number[:17]):
        raise InvalidCode("first 17 characters must be digits", field=_ID_FIELD)
    if number[17] not in _ID_CHECK_ALLOWED:
        raise InvalidCode("check character must be a digit or X", field=_ID_FIELD)
    if id_number_check_char(number[:17]) != number[17]:
        raise InvalidCode("check character does not match", field=_ID_FIELD)
    _birth_date(number, date.today() if today is None else today)
    return number


def id_number_birth_date(raw: str, *, today: date | None = None) -> date:
    """Validate a resident ID number (see :func:`validate_id_number`) and return its birth date."""
    number = validate_id_number(raw, today=today)
    return _birth_date(number, date.today() if today is None else today)


def mask_id_number(number: str) -> str:
    """Mask an ID number keeping the first 6 and last 4 characters: ``140212********123X``.

    Works on 18- and legacy 15-character numbers without validating them. Anything else is
    masked completely (same length), so the helper is always safe to use in logs.
    """
    text = _normalize_id_number(number)
    if len(text) not in (15, 18):
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


_PHONE_FIELD: Final = "phone"
_PHONE_SEPARATORS: Final = re.compile(r"[\s\-]")
_MOBILE_PATTERN: Final = re.compile(r"1[3-9][0-9]{9}")


def validate_phone(raw: str) -> str:
    """Return an 11-digit mainland mobile number or raise :class:`InvalidCode`.

    Full-width characters are converted; spaces and hyphens are removed; a ``+86`` or ``86``
    country prefix is dropped. The result must match ``1[3-9]`` followed by 9 digits. Error
    messages never contain the number.
    """
    number = _PHONE_SEPARATORS.sub("", _to_halfwidth(raw))
    if not number:
        raise InvalidCode("must not be empty", field=_PHONE_FIELD)
    if number.startswith("+86"):
        number = number[3:]
    elif len(number) == 13 and number.startswith("86"):
        number = number[2:]
    if not _is_ascii_digits(number):
        raise InvalidCode("must contain only digits", field=_PHONE_FIELD)
    if len(number) != 11:
        raise InvalidCode("must be 11 digits", field=_PHONE_FIELD)
    if _MOBILE_PATTERN.fullmatch(number) is None:
        raise InvalidCode("must start with 13-19", field=_PHONE_FIELD)
    return number


def mask_phone(phone: str) -> str:
    """Mask a mainland mobile number keeping the first 3 and last 4 digits: ``138****5678``.

    The input is normalised as in :func:`validate_phone` (so ``+86 138-1234-5678`` works).
    Input that is not a valid mobile number is masked completely, never echoed.
    """
    try:
        number = validate_phone(phone)
    except InvalidCode:
        return "*" * len(phone.strip())
    return number[:3] + "****" + number[-4:]


# --------------------------------------------------------------------------------------------
# Statistical division codes (统计用区划代码)
# --------------------------------------------------------------------------------------------

_REGION_FIELD: Final = "region_code"
_REGION_LENGTHS: Final = (2, 4, 6, 9, 12)
_REGION_LEVELS: Final[tuple[RegionLevel, ...]] = (
    "province",
    "city",
    "county",
    "township",
    "village",
)
_PROVINCE_PREFIXES: Final = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23"}
    | {str(prefix) for prefix in range(31, 38)}
    | {str(prefix) for prefix in range(41, 47)}
    | {str(prefix) for prefix in range(50, 55)}
    | {str(prefix) for prefix in range(61, 66)}
    | {"71", "81", "82"}
)
_CITIES_WITHOUT_COUNTIES: Final = frozenset({"4419", "4420", "4604"})
"""Prefecture-level cities without county-level divisions (东莞, 中山, 儋州).

Their townships are coded directly under a ``00`` county part, e.g. 441900003000 (东莞市东城街道),
so for these cities a zero county followed by a non-zero township is legitimate.
"""


def _region_segments(code: str) -> list[str]:
    starts = (0, *_REGION_LENGTHS[:-1])
    pairs = zip(starts, _REGION_LENGTHS, strict=True)
    return [code[start:end] for start, end in pairs if end <= len(code)]


def _is_zero(segment: str) -> bool:
    return segment.strip("0") == ""


def validate_region_code(raw: str) -> str:
    """Return the normalised region code (same length as given) or raise :class:`InvalidCode`.

    Accepts ASCII digit strings of 2, 4, 6, 9 or 12 digits (province, city, county, township,
    village prefixes) starting with a real province prefix. A level written as zeros may only
    be followed by zero levels (``140012`` and ``140200000001`` are rejected), except the
    ``00`` county of the cities in ``_CITIES_WITHOUT_COUNTIES``. Full-width digits are
    converted and surrounding whitespace stripped.
    """
    code = _to_halfwidth(raw).strip()
    if not code:
        raise InvalidCode("must not be empty", field=_REGION_FIELD)
    if not _is_ascii_digits(code):
        raise InvalidCode("must contain only digits", field=_REGION_FIELD, value=code)
    if len(code) not in _REGION_LENGTHS:
        raise InvalidCode("must be 2, 4, 6, 9 or 12 digits", field=_REGION_FIELD, value=code)
    if code[:2] not in _PROVINCE_PREFIXES:
        raise InvalidCode("unknown province prefix", field=_REGION_FIELD, value=code)
    segments = _region_segments(code)
    for index, segment in enumerate(segments):
        if _is_zero(segment):
            continue
        for parent_index in range(1, index):
            if not _is_zero(segments[parent_index]):
                continue
            if parent_index == 2 and code[:4] in _CITIES_WITHOUT_COUNTIES:
                continue
            raise InvalidCode(
                f"{_REGION_LEVELS[parent_index]} part is zero but a deeper level is not",
                field=_REGION_FIELD,
                value=code,
            )
    return code


def canonical_region_code(code: str) -> str:
    """Return the shortest significant form: ``140212000000`` -> ``140212``.

    Trailing all-zero levels are dropped, so the result has 2, 4, 6, 9 or 12 digits.
    """
    segments = _region_segments(validate_region_code(code))
    while len(segments) > 1 and _is_zero(segments[-1]):
        segments.pop()
    return "".join(segments)


def region_level(code: str) -> RegionLevel:
    """Return the level of a region code after dropping trailing zero levels."""
    canonical = canonical_region_code(code)
    return _REGION_LEVELS[_REGION_LENGTHS.index(len(canonical))]


def region_ancestors(code: str) -> list[str]:
    """Return canonical codes from the province down to the code itself (inclusive).

    ``140212101203`` -> ``["14", "1402", "140212", "140212101", "140212101203"]``. Levels
    coded as zeros (the ``00`` county of 东莞/中山/儋州) are skipped.
    """
    canonical = canonical_region_code(code)
    ancestors: list[str] = []
    start = 0
    for length in _REGION_LENGTHS:
        if length > len(canonical):
            break
        if not _is_zero(canonical[start:length]):
            ancestors.append(canonical[:length])
        start = length
    return ancestors


def is_within(code: str, scope: str) -> bool:
    """True when ``code`` is ``scope`` itself or lies below it in the division hierarchy.

    Both are validated and compared in canonical form, so the match always ends on a level
    boundary (``"1402"`` is within ``"14"`` and ``"140000"``). Invalid input raises
    :class:`InvalidCode` rather than returning ``False``.
    """
    return canonical_region_code(code).startswith(canonical_region_code(scope))


def pad_region_code(code: str) -> str:
    """Return the full 12-digit form of a region code, padding with zeros."""
    return validate_region_code(code).ljust(12, "0")
