"""Tests for libs.common.validators (credit codes, ID numbers, phones, region codes)."""

from __future__ import annotations

from datetime import date

import pytest

from libs.common.validators import (
    CREDIT_CODE_CHARSET,
    InvalidCode,
    canonical_region_code,
    credit_code_check_char,
    credit_code_division,
    id_number_birth_date,
    id_number_check_char,
    is_within,
    mask_id_number,
    mask_phone,
    normalize_credit_code,
    organization_code_check_char,
    pad_region_code,
    region_ancestors,
    region_level,
    validate_credit_code,
    validate_id_number,
    validate_phone,
    validate_region_code,
)

TODAY = date(2024, 6, 15)


# --------------------------------------------------------------------------------------------
# Independent reference implementations (weights derived from the standards' formulas)
# --------------------------------------------------------------------------------------------


def ref_credit_check(first17: str) -> str:
    """GB 32100: weights are 3**i mod 31; check value 31 - sum mod 31, with 31 -> 0."""
    total = sum(CREDIT_CODE_CHARSET.index(char) * pow(3, i, 31) for i, char in enumerate(first17))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def ref_id_check(first17: str) -> str:
    """GB 11643: weights are 2**(17-i) mod 11; mapping "10X98765432"[sum mod 11]."""
    total = sum(int(char) * pow(2, 17 - i, 11) for i, char in enumerate(first17))
    return "10X98765432"[total % 11]


def make_id(first17: str) -> str:
    return first17 + ref_id_check(first17)


def make_credit(first17: str) -> str:
    return first17 + ref_credit_check(first17)


def wrong_char(correct: str, alphabet: str) -> str:
    return next(char for char in alphabet if char != correct)


def to_fullwidth(text: str) -> str:
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


# --------------------------------------------------------------------------------------------
# InvalidCode
# --------------------------------------------------------------------------------------------


def test_invalid_code_is_value_error_with_reason() -> None:
    with pytest.raises(ValueError, match="must be 18 characters") as excinfo:
        validate_credit_code("bad")
    assert isinstance(excinfo.value, InvalidCode)
    assert excinfo.value.reason == "must be 18 characters"
    assert excinfo.value.field == "credit_code"
    assert "must be 18 characters" in str(excinfo.value)


def test_invalid_code_truncates_long_echoed_value() -> None:
    with pytest.raises(InvalidCode) as excinfo:
        validate_region_code("1" * 500)
    assert len(str(excinfo.value)) < 150


# --------------------------------------------------------------------------------------------
# Unified social credit code
# --------------------------------------------------------------------------------------------

# Published real-world codes; each passes both the GB 32100 check (position 18) and the
# GB 11714 organisation-code check (position 17), verified by the reference functions above.
REAL_CREDIT_CODES = [
    "91350100M000100Y43",
    "91110000600037341L",
    "914403001922038216",
    "91440300708461136T",
    "91330100799655058B",
    "91110108551385082Q",
]


@pytest.mark.parametrize("code", REAL_CREDIT_CODES)
def test_real_credit_codes_are_valid(code: str) -> None:
    assert ref_credit_check(code[:17]) == code[17]
    assert credit_code_check_char(code[:17]) == code[17]
    assert validate_credit_code(code) == code


@pytest.mark.parametrize("code", REAL_CREDIT_CODES)
def test_real_credit_codes_embed_valid_organization_codes(code: str) -> None:
    assert organization_code_check_char(code[8:16]) == code[16]


def test_credit_code_weights_follow_standard() -> None:
    from libs.common import validators

    assert tuple(pow(3, i, 31) for i in range(17)) == validators._CREDIT_CODE_WEIGHTS
    assert len(CREDIT_CODE_CHARSET) == 31
    assert not set("IOZSV") & set(CREDIT_CODE_CHARSET)


@pytest.mark.parametrize(
    "first17",
    [
        "91350100M000100Y4",
        "12100000400000719",
        "5311000050000443X",
        "Y1440300MA5DWWWWW",
        "A1110000000000000",
        "00000000000000000",
        "YY123456YYYYYYYYY",
    ],
)
def test_computed_credit_codes_round_trip(first17: str) -> None:
    code = make_credit(first17)
    assert credit_code_check_char(first17) == code[17]
    assert validate_credit_code(code) == code


def test_check_value_31_maps_to_zero() -> None:
    # An all-zero body has weighted sum 0 -> 31 - 0 = 31 -> "0".
    assert credit_code_check_char("0" * 17) == "0"
    assert validate_credit_code("0" * 18) == "0" * 18


def test_every_check_character_is_reachable() -> None:
    seen = set()
    for value in range(31):
        body = "0" * 16 + CREDIT_CODE_CHARSET[value]
        seen.add(credit_code_check_char(body))
    assert seen == set(CREDIT_CODE_CHARSET)


@pytest.mark.parametrize("code", REAL_CREDIT_CODES)
def test_wrong_credit_check_char_rejected(code: str) -> None:
    bad = code[:17] + wrong_char(code[17], CREDIT_CODE_CHARSET)
    with pytest.raises(InvalidCode) as excinfo:
        validate_credit_code(bad)
    assert excinfo.value.reason == "check character does not match"


def test_transposed_credit_code_rejected() -> None:
    code = "91350100M000100Y43"
    swapped = code[:8] + code[9] + code[8] + code[10:]
    with pytest.raises(InvalidCode, match="check character does not match"):
        validate_credit_code(swapped)


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V", "i", "o", "z", "s", "v"])
def test_forbidden_letters_rejected(letter: str) -> None:
    code = "91350100M000100Y43"
    bad = code[:10] + letter + code[11:]
    with pytest.raises(InvalidCode) as excinfo:
        validate_credit_code(bad)
    assert excinfo.value.reason == "contains a character outside the credit code charset"


@pytest.mark.parametrize(
    "bad", ["91350100M000100Y4-", "9135 100M000100Y43", "91350100M000100Y4\u00e9"]
)
def test_credit_code_other_bad_characters(bad: str) -> None:
    with pytest.raises(InvalidCode, match="charset"):
        validate_credit_code(bad)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("91350100M000100Y4", "must be 18 characters"),
        ("91350100M000100Y433", "must be 18 characters"),
    ],
)
def test_credit_code_length(raw: str, reason: str) -> None:
    with pytest.raises(InvalidCode) as excinfo:
        validate_credit_code(raw)
    assert excinfo.value.reason == reason


def test_credit_code_division_must_be_digits() -> None:
    code = make_credit("9135A100M000100Y4")
    with pytest.raises(InvalidCode, match="6 digits"):
        validate_credit_code(code)


def test_credit_code_message_may_echo_input() -> None:
    with pytest.raises(InvalidCode) as excinfo:
        validate_credit_code("91350100M000100Y44")
    assert "91350100M000100Y44" in str(excinfo.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  91350100m000100y43 ", "91350100M000100Y43"),
        (to_fullwidth("91350100M000100Y43"), "91350100M000100Y43"),
        (to_fullwidth("91350100m000100y43"), "91350100M000100Y43"),
        ("\u300091110000600037341l\u3000", "91110000600037341L"),
        ("\t914403001922038216\n", "914403001922038216"),
    ],
)
def test_credit_code_normalisation(raw: str, expected: str) -> None:
    assert normalize_credit_code(raw) == expected
    assert validate_credit_code(raw) == expected


def test_normalize_credit_code_keeps_inner_content() -> None:
    assert normalize_credit_code(to_fullwidth("abc-123")) == "ABC-123"


def test_credit_code_check_char_accepts_fullwidth_and_lowercase() -> None:
    assert credit_code_check_char(to_fullwidth("91350100m000100y4")) == "3"


@pytest.mark.parametrize(
    ("first17", "reason"),
    [
        ("91350100M000100Y", "must be 17 characters"),
        ("91350100M000100Y43", "must be 17 characters"),
        ("91350100M000100O4", "contains a character outside the credit code charset"),
    ],
)
def test_credit_code_check_char_rejects_bad_input(first17: str, reason: str) -> None:
    with pytest.raises(InvalidCode) as excinfo:
        credit_code_check_char(first17)
    assert excinfo.value.reason == reason


@pytest.mark.parametrize(
    ("code", "division"),
    [
        ("91350100M000100Y43", "350100"),
        ("91110000600037341L", "110000"),
        (" 914403001922038216", "440300"),
    ],
)
def test_credit_code_division(code: str, division: str) -> None:
    assert credit_code_division(code) == division


def test_credit_code_division_validates() -> None:
    with pytest.raises(InvalidCode):
        credit_code_division("91350100M000100Y44")


@pytest.mark.parametrize(
    ("first8", "check"),
    [
        ("M000100Y", "4"),
        ("60003734", "1"),
        ("00000000", "0"),  # 11 - 0 = 11 -> "0"
        ("d2601363", "X"),  # 11 - 1 = 10 -> "X" (lower case normalised)
    ],
)
def test_organization_code_check_char(first8: str, check: str) -> None:
    assert organization_code_check_char(first8) == check


def test_organization_code_x_case() -> None:
    # Weighted sum 166 = 15 * 11 + 1 -> 11 - 1 = 10 -> "X".
    assert organization_code_check_char("D2601363") == "X"


@pytest.mark.parametrize("bad", ["1234567", "123456789", "1234567-", "1234567\u00e9"])
def test_organization_code_bad_input(bad: str) -> None:
    with pytest.raises(InvalidCode):
        organization_code_check_char(bad)


def test_organization_code_not_enforced_by_credit_code_validation() -> None:
    # Position 17 deliberately wrong for GB 11714, overall check recomputed: still valid.
    code = make_credit("91350100M000100Y5")
    assert organization_code_check_char(code[8:16]) != code[16]
    assert validate_credit_code(code) == code


# --------------------------------------------------------------------------------------------
# Resident ID number
# --------------------------------------------------------------------------------------------

VALID_IDS = [
    "11010519491231002X",  # the example printed in GB 11643-1999
    make_id("14021219900307123"),
    make_id("44030420000229001"),  # leap day
    make_id("31011519000101000"),  # earliest accepted birth date
    make_id("65010220240615999"),  # born "today"
]


def test_id_weights_follow_standard() -> None:
    from libs.common import validators

    assert tuple(pow(2, 17 - i, 11) for i in range(17)) == validators._ID_WEIGHTS


@pytest.mark.parametrize("number", VALID_IDS)
def test_valid_id_numbers(number: str) -> None:
    assert id_number_check_char(number[:17]) == number[17]
    assert validate_id_number(number, today=TODAY) == number


def test_every_id_check_char_is_reachable() -> None:
    found = {id_number_check_char(f"1402121990030712{digit}") for digit in "0123456789"}
    found |= {id_number_check_char(f"140212199003071{digit}0") for digit in "0123456789"}
    assert found == set("0123456789X")


def test_x_check_character_and_lowercase_x() -> None:
    body = next(
        f"14021219900307{suffix:03d}"
        for suffix in range(1000)
        if ref_id_check(f"14021219900307{suffix:03d}") == "X"
    )
    assert validate_id_number(body + "X", today=TODAY) == body + "X"
    assert validate_id_number(body + "x", today=TODAY) == body + "X"
    assert validate_id_number(to_fullwidth(body + "x"), today=TODAY) == body + "X"
    assert validate_id_number(f"  {body}x\n", today=TODAY) == body + "X"


def test_fullwidth_id_number() -> None:
    number = VALID_IDS[1]
    assert validate_id_number(to_fullwidth(number), today=TODAY) == number


def test_default_today_is_used() -> None:
    assert validate_id_number("11010519491231002X") == "11010519491231002X"
    with pytest.raises(InvalidCode, match="future"):
        validate_id_number(make_id("110105" + f"{date.today().year + 1}0101" + "002"))


@pytest.mark.parametrize("number", VALID_IDS)
def test_wrong_id_check_char(number: str) -> None:
    bad = number[:17] + wrong_char(number[17], "0123456789X")
    with pytest.raises(InvalidCode) as excinfo:
        validate_id_number(bad, today=TODAY)
    assert excinfo.value.reason == "check character does not match"


@pytest.mark.parametrize(
    ("first17", "reason"),
    [
        ("14021219900230123", "birth date is not a valid date"),  # Feb 30
        ("14021219000229123", "birth date is not a valid date"),  # 1900 not a leap year
        ("14021220230229123", "birth date is not a valid date"),  # 2023 not a leap year
        ("14021219901301123", "birth date is not a valid date"),  # month 13
        ("14021219900000123", "birth date is not a valid date"),  # month 0
        ("14021219900431123", "birth date is not a valid date"),  # April 31
        ("14021200000101123", "birth date is not a valid date"),  # year 0
        ("14021220240616123", "birth date is in the future"),  # today + 1
        ("14021230000101123", "birth date is in the future"),
        ("14021218991231123", "birth date is before 1900"),
        ("44052418800101001", "birth date is before 1900"),  # the standard's 1880 example
    ],
)
def test_bad_birth_dates(first17: str, reason: str) -> None:
    number = make_id(first17)
    with pytest.raises(InvalidCode) as excinfo:
        validate_id_number(number, today=TODAY)
    assert excinfo.value.reason == reason
    assert excinfo.value.__cause__ is None


def test_standard_1880_example_has_correct_check_char() -> None:
    assert id_number_check_char("44052418800101001") == "4"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("14021219900307123", "must be 18 characters"),
        ("1402121990030712345", "must be 18 characters"),
        ("140212199003071", "must be 18 characters"),  # legacy 15-digit form
        ("14021219900307A23X", "first 17 characters must be digits"),
        ("1402121990030712 X", "first 17 characters must be digits"),
        ("14021219900307\u066123X", "first 17 characters must be digits"),  # Arabic-Indic digit
        ("14021219900307123Y", "check character must be a digit or X"),
    ],
)
def test_id_number_format_errors(raw: str, reason: str) -> None:
    with pytest.raises(InvalidCode) as excinfo:
        validate_id_number(raw, today=TODAY)
    assert excinfo.value.reason == reason


SENSITIVE_ID_INPUTS = [
    VALID_IDS[1][:17] + wrong_char(VALID_IDS[1][17], "0123456789X"),
    make_id("14021219900230123"),
    make_id("14021230000101123"),
    make_id("14021218991231123"),
    "14021219900307123Y",
    "14021219900307A23X",
    "1402121990030712345",
]


@pytest.mark.parametrize("raw", SENSITIVE_ID_INPUTS)
def test_id_number_never_leaks_into_errors(raw: str) -> None:
    with pytest.raises(InvalidCode) as excinfo:
        validate_id_number(raw, today=TODAY)
    exc = excinfo.value
    rendered = " ".join([str(exc), repr(exc), exc.reason, *map(str, exc.args)])
    assert raw not in rendered
    assert raw[:14] not in rendered
    assert raw[6:14] not in rendered  # birth date
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__


def test_id_number_check_char_errors_do_not_leak() -> None:
    with pytest.raises(InvalidCode) as excinfo:
        id_number_check_char("1402121990030712A")
    assert "1402121990030712" not in str(excinfo.value)
    assert excinfo.value.reason == "must be 17 digits"


def test_id_number_birth_date() -> None:
    assert id_number_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert id_number_birth_date(VALID_IDS[2], today=TODAY) == date(2000, 2, 29)
    with pytest.raises(InvalidCode):
        id_number_birth_date(make_id("14021219900230123"), today=TODAY)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("14021219900307123X", "140212********123X"),
        ("14021219900307123x", "140212********123X"),
        (to_fullwidth("14021219900307123x"), "140212********123X"),
        (" 11010519491231002X ", "110105********002X"),
        ("140212900307123", "140212*****7123"),  # legacy 15-digit number
        ("1402121990", "**********"),
        ("13812345678", "***********"),
        ("", ""),
    ],
)
def test_mask_id_number(raw: str, masked: str) -> None:
    assert mask_id_number(raw) == masked


def test_mask_id_number_shape() -> None:
    masked = mask_id_number(VALID_IDS[1])
    assert len(masked) == 18
    assert masked[6:14] == "*" * 8
    assert masked[:6] == VALID_IDS[1][:6]
    assert masked[-4:] == VALID_IDS[1][-4:]


# --------------------------------------------------------------------------------------------
# Mobile phone numbers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        " 13812345678 ",
        "138 1234 5678",
        "138-1234-5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "8613812345678",
        "86 138-1234-5678",
        to_fullwidth("+86 138-1234-5678"),
        to_fullwidth("138") + "\u3000" + to_fullwidth("1234") + "\u3000" + to_fullwidth("5678"),
    ],
)
def test_validate_phone_accepts(raw: str) -> None:
    assert validate_phone(raw) == "13812345678"


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
def test_validate_phone_prefixes(prefix: str) -> None:
    number = prefix + "012345678"
    assert validate_phone(number) == number


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must not be empty"),
        ("  - ", "must not be empty"),
        ("12812345678", "must start with 13-19"),
        ("10012345678", "must start with 13-19"),
        ("23812345678", "must start with 13-19"),
        ("1381234567", "must be 11 digits"),
        ("138123456789", "must be 11 digits"),
        ("+861381234567", "must be 11 digits"),
        ("861381234567", "must be 11 digits"),  # 12 digits: "86" is not stripped
        ("+1 4155552671", "must contain only digits"),
        ("138(1234)5678", "must contain only digits"),
        ("1381234567a", "must contain only digits"),
        ("13812345\u066678", "must contain only digits"),  # Arabic-Indic digit
        ("0086 13812345678", "must be 11 digits"),
    ],
)
def test_validate_phone_rejects(raw: str, reason: str) -> None:
    with pytest.raises(InvalidCode) as excinfo:
        validate_phone(raw)
    exc = excinfo.value
    assert exc.reason == reason
    digits = "".join(char for char in raw if char.isdigit())
    if len(digits) >= 4:
        assert digits not in str(exc)
        assert digits not in repr(exc)


def test_phone_starting_with_86_but_domestic_length_is_kept() -> None:
    # An 11-digit number is never stripped, even if it started with "86" (it is then invalid).
    with pytest.raises(InvalidCode, match="13-19"):
        validate_phone("86123456789")


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        (to_fullwidth("13812345678"), "138****5678"),
        ("12345", "*****"),
        ("010-12345678", "************"),
        ("", ""),
    ],
)
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


# --------------------------------------------------------------------------------------------
# Region (statistical division) codes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "11",
        "14",
        "82",
        "1402",
        "1400",
        "140212",
        "110101",  # municipality district: city part "01"
        "140212101",
        "140212101203",
        "140212000000",
        "140000000000",
        "441900003000",  # 东莞市东城街道: county part "00" for a city without counties
        "441900003001",
        "442000001000",  # 中山市
        "460400100000",  # 儋州市那大镇
        "710000",
        "810000",
    ],
)
def test_validate_region_code_accepts(code: str) -> None:
    assert validate_region_code(code) == code


def test_validate_region_code_normalises() -> None:
    assert validate_region_code(" 140212 ") == "140212"
    assert validate_region_code(to_fullwidth("140212")) == "140212"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must not be empty"),
        ("1", "must be 2, 4, 6, 9 or 12 digits"),
        ("141", "must be 2, 4, 6, 9 or 12 digits"),
        ("140", "must be 2, 4, 6, 9 or 12 digits"),
        ("14021", "must be 2, 4, 6, 9 or 12 digits"),
        ("1402121", "must be 2, 4, 6, 9 or 12 digits"),
        ("14021210", "must be 2, 4, 6, 9 or 12 digits"),
        ("1402121012", "must be 2, 4, 6, 9 or 12 digits"),
        ("1402121012030", "must be 2, 4, 6, 9 or 12 digits"),
        ("14-02", "must contain only digits"),
        ("14 02", "must contain only digits"),
        ("14a2", "must contain only digits"),
        ("1\u0664", "must contain only digits"),
        ("00", "unknown province prefix"),
        ("10", "unknown province prefix"),
        ("16", "unknown province prefix"),
        ("24", "unknown province prefix"),
        ("38", "unknown province prefix"),
        ("47", "unknown province prefix"),
        ("55", "unknown province prefix"),
        ("66", "unknown province prefix"),
        ("72", "unknown province prefix"),
        ("83", "unknown province prefix"),
        ("99", "unknown province prefix"),
        ("140012", "city part is zero but a deeper level is not"),
        ("140200000001", "county part is zero but a deeper level is not"),
        ("140212000001", "township part is zero but a deeper level is not"),
        ("140000101000", "city part is zero but a deeper level is not"),
        ("140200101", "county part is zero but a deeper level is not"),
        ("441900000001", "township part is zero but a deeper level is not"),
    ],
)
def test_validate_region_code_rejects(raw: str, reason: str) -> None:
    with pytest.raises(InvalidCode) as excinfo:
        validate_region_code(raw)
    assert excinfo.value.reason == reason
    assert excinfo.value.field == "region_code"


def test_region_error_may_echo_input() -> None:
    with pytest.raises(InvalidCode) as excinfo:
        validate_region_code("140012")
    assert "140012" in str(excinfo.value)


@pytest.mark.parametrize(
    ("code", "level", "canonical"),
    [
        ("14", "province", "14"),
        ("1400", "province", "14"),
        ("140000000000", "province", "14"),
        ("1402", "city", "1402"),
        ("140200", "city", "1402"),
        ("140200000000", "city", "1402"),
        ("140212", "county", "140212"),
        ("140212000000", "county", "140212"),
        ("140212000", "county", "140212"),
        ("140212101", "township", "140212101"),
        ("140212101000", "township", "140212101"),
        ("140212101203", "village", "140212101203"),
        ("110101", "county", "110101"),
        ("441900000000", "city", "4419"),
        ("441900003000", "township", "441900003"),
        ("441900003001", "village", "441900003001"),
    ],
)
def test_region_level_and_canonical(code: str, level: str, canonical: str) -> None:
    assert region_level(code) == level
    assert canonical_region_code(code) == canonical


@pytest.mark.parametrize(
    ("code", "ancestors"),
    [
        ("14", ["14"]),
        ("140000000000", ["14"]),
        ("1402", ["14", "1402"]),
        ("140212", ["14", "1402", "140212"]),
        ("140212000000", ["14", "1402", "140212"]),
        ("140212101000", ["14", "1402", "140212", "140212101"]),
        ("140212101203", ["14", "1402", "140212", "140212101", "140212101203"]),
        ("441900003001", ["44", "4419", "441900003", "441900003001"]),
    ],
)
def test_region_ancestors(code: str, ancestors: list[str]) -> None:
    assert region_ancestors(code) == ancestors
    assert region_ancestors(code)[-1] == canonical_region_code(code)


@pytest.mark.parametrize(
    ("code", "scope", "expected"),
    [
        ("1402", "14", True),
        ("140212101203", "14", True),
        ("140212101203", "1402", True),
        ("140212101203", "140212", True),
        ("140212101203", "140212101", True),
        ("140212101203", "140212101203", True),
        ("140212", "140212", True),
        ("140212", "140212000000", True),
        ("140212000000", "140212", True),
        ("1402", "140000", True),
        ("1402", "140000000000", True),
        ("14", "1402", False),
        ("140212", "1402121", None),
        ("1502", "14", False),
        ("1410", "14", True),
        ("141000", "1402", False),
        ("140213", "140212", False),
        ("140212102", "140212101", False),
        ("441900003001", "4419", True),
        ("441900003001", "441900", True),
        ("441900003001", "441900003", True),
        ("442000001000", "4419", False),
    ],
)
def test_is_within(code: str, scope: str, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(InvalidCode):
            is_within(code, scope)
    else:
        assert is_within(code, scope) is expected


@pytest.mark.parametrize(("code", "scope"), [("1402", "141"), ("141", "14"), ("1402", "")])
def test_is_within_rejects_invalid_input(code: str, scope: str) -> None:
    with pytest.raises(InvalidCode):
        is_within(code, scope)


def test_scope_prefix_boundary() -> None:
    # "1402" is within "14", but "141" is not a scope at all; "14" never matches "15..." etc.
    assert is_within("1402", "14")
    with pytest.raises(InvalidCode, match="2, 4, 6, 9 or 12"):
        validate_region_code("141")


@pytest.mark.parametrize(
    ("code", "padded"),
    [
        ("14", "140000000000"),
        ("1402", "140200000000"),
        ("140212", "140212000000"),
        ("140212101", "140212101000"),
        ("140212101203", "140212101203"),
        ("441900003", "441900003000"),
    ],
)
def test_pad_region_code(code: str, padded: str) -> None:
    assert pad_region_code(code) == padded
    assert canonical_region_code(padded) == canonical_region_code(code)


def test_pad_region_code_validates() -> None:
    with pytest.raises(InvalidCode):
        pad_region_code("141")
