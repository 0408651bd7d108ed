"""ID numbers and phones typed into free text are found and masked; codes and plain numbers not."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from libs.common.personal import _runs, find_personal, has_personal, mask_personal
from libs.common.validators import id_number_check_char

BODY = "14021219900101123"
ID = BODY + id_number_check_char(BODY)
ID_X = next(
    f"14021219850715{s:03d}X"
    for s in range(1000)
    if id_number_check_char(f"14021219850715{s:03d}") == "X"
)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"法人身份证{ID}", f"法人身份证{ID[:6]}********{ID[-4:]}"),
        (f"{ID[:6]} {ID[6:14]} {ID[14:]}", f"{ID[:6]}********{ID[-4:]}"),
        (ID_X.lower(), f"{ID_X[:6]}********{ID_X[-4:]}"),
        ("旧证140212850701123", "旧证140212*****1123"),
        ("某路8号，电话13812345678。", "某路8号，电话138****5678。"),
        ("+86 138-1234-5678", "138****5678"),
        ("８６１３８１２３４５６７８", "138****5678"),
        ("办公室 0352-5123456-801", "办公室 0352-*****56"),
        ("（0352）5123456", "0352-*****56"),
        ("010 81234567", "010-******67"),
        ("010-2345678", "010-*****78"),  # the fewest digits a number found has: ten
        (f"甲{ID}乙13812345678丙", f"甲{ID[:6]}********{ID[-4:]}乙138****5678丙"),
    ],
)
def test_numbers_in_free_text_are_masked(text: str, masked: str) -> None:
    assert mask_personal(text) == masked
    assert has_personal(text)
    assert not has_personal(mask_personal(text))  # masking is final
    assert mask_personal(masked) == masked


@pytest.mark.parametrize(
    "text",
    [
        "91140212MA0L1B2C3G",  # a credit code
        "911402121234567890",  # an all-digit one whose check is not an ID number's
        "911402120000009520",  # one whose check is an ID number's, but no birth date
        "140212101203",  # a village code
        ID[:17] + ("0" if ID[17] != "0" else "1"),  # wrong check character
        ID + "1",  # 19 digits: not an ID number
        "140212991301123",  # 15 digits, no real date at 7-12
        "坐标 40.0712345678, 113.2912345678",
        "12812345678",  # not a mobile prefix
        "2026-11-30 08:48:35",
        "大同市新荣区某某路88号",
        "大同市新荣区测试12345有限公司",  # a run of four, but fewer than ten digits
        "１２３４５６７８９",  # nine (full-width) digits
        "",
    ],
)
def test_codes_and_other_numbers_are_left_alone(text: str) -> None:
    assert mask_personal(text) == text
    assert find_personal(text) == []


def test_an_id_number_is_not_read_as_a_phone_too() -> None:
    found = find_personal(f"证件{ID}")
    assert [f.kind for f in found] == ["id_number"]


NUMBER_CHARS = set("0123456789０１２３４５６７８９ -－\u3000+＋(（)）Xx")
DIGITS = set("0123456789０１２３４５６７８９")


def runs_by_hand(text: str) -> list[tuple[int, int]]:
    """The whole runs of number characters holding at least ten digits, as spans."""
    spans, start = [], None
    for i, c in enumerate([*text, "\0"]):
        if c in NUMBER_CHARS and start is None:
            start = i
        elif c not in NUMBER_CHARS and start is not None:
            if sum(ch in DIGITS for ch in text[start:i]) >= 10:
                spans.append((start, i))
            start = None
    return spans


#: Text made of pieces: runs of digits (ASCII or full-width), separators and signs, other text.
PIECES = st.lists(
    st.one_of(
        st.text(alphabet="0123456789８９", min_size=1, max_size=12),
        st.sampled_from([" ", "-", "－", "\u3000", "+", "＋", "(", "（", ")", "）", "X", "x"]),
        st.sampled_from(["a", "C", "大", "\x1f", ".", "号"]),
    ),
    max_size=12,
).map("".join)


@example("123456789")  # nine digits: no run
@example("12345-6789")  # ten characters, nine digits: no run
@example("12345-67890")  # ten across a separator: one
@example("号0352 1234567号138 1234 567")  # two runs, the second nine digits
@given(PIECES)
def test_the_runs_searched_are_the_whole_runs_with_ten_digits(text: str) -> None:
    assert [(m.start(), m.end()) for m in _runs(text)] == runs_by_hand(text)
