"""The one text type of the HTTP boundary (libs/common/text.py), without a store or a service."""

from __future__ import annotations

import unicodedata

import pytest
from pydantic import BaseModel, Field, ValidationError

from libs.common.text import FreeText, Name, Text, clean_text, escape_refused, refused_character


class Body(BaseModel):
    name: Name = Field(max_length=50)
    code: Text | None = None
    note: FreeText | None = None


def _reason(**fields: str) -> str:
    with pytest.raises(ValidationError) as refused:
        Body(**{"name": "某某有限公司", **fields})
    (error,) = refused.value.errors()
    return str(error["msg"]).removeprefix("Value error, ")


HOSTILE = {
    "\x00": "a control character (U+0000)",
    "\x07": "a control character (U+0007)",
    "\x1b": "a control character (U+001B)",
    "\x7f": "a control character (U+007F)",
    "\x85": "a control character (U+0085)",
    "\x9b": "a control character (U+009B)",
    "\ufffe": "a non-character (U+FFFE)",
    "\uffff": "a non-character (U+FFFF)",
    "\ufdd0": "a non-character (U+FDD0)",
    "\ufdef": "a non-character (U+FDEF)",
    "\U0001fffe": "a non-character (U+1FFFE)",
    "\U0010ffff": "a non-character (U+10FFFF)",
    "\u202a": "a bidirectional override (U+202A)",
    "\u202e": "a bidirectional override (U+202E)",
    "\u2066": "a bidirectional override (U+2066)",
    "\u2069": "a bidirectional override (U+2069)",
}


@pytest.mark.parametrize(
    ("char", "what"), HOSTILE.items(), ids=[f"U+{ord(c):04X}" for c in HOSTILE]
)
@pytest.mark.parametrize("field", ["name", "code", "note"])
def test_every_hostile_character_is_refused_naming_it(char: str, what: str, field: str) -> None:
    assert _reason(**{field: f"大同{char}物流"}) == f"contains {what}"


@pytest.mark.parametrize(
    "value", ["\u200b", "\u200b\u200c\u200d\u2060\ufeff", " \u3000 ", "\u0301"]
)
@pytest.mark.parametrize("field", ["name", "code", "note"])
def test_a_value_with_nothing_visible_is_refused(value: str, field: str) -> None:
    assert _reason(**{field: value}) == "has no visible character"


class Required(BaseModel):
    name: Name = Field(min_length=1)


def test_an_empty_value_is_left_to_min_length() -> None:
    assert Body(name="", code="").code == ""
    with pytest.raises(ValidationError, match="at least 1 character"):
        Required(name="")


def test_names_are_nfc_normalised_trimmed_and_spaced_once() -> None:
    decomposed = unicodedata.normalize("NFD", "Café 大同")
    body = Body(name=f"\u3000 {decomposed}   物流  ", code="  I6513 ")
    assert body.name == "Café 大同 物流"
    assert unicodedata.is_normalized("NFC", body.name)
    assert body.code == "I6513"
    # a zero-width joiner inside a name with visible text is kept (some scripts need it)
    assert Body(name="a\u200db").name == "a\u200db"


def test_line_breaks_only_in_free_text() -> None:
    assert _reason(code="a\nb") == "contains a line break or tab (U+000A): one line only"
    assert _reason(name="a\tb") == "contains a line break or tab (U+0009): one line only"
    assert _reason(name="a\u2028b").startswith("contains a line break")
    assert Body(name="x", note=" 第一行\r\n第二行\t完 ").note == "第一行\n第二行\t完"


def test_the_check_is_one_function_for_all_three() -> None:
    assert refused_character("ok 好") is None
    assert refused_character("a\nb") is None
    assert refused_character("a\nb", multiline=False) is not None
    with pytest.raises(ValueError, match=r"U\+0000"):
        clean_text("\x00")


def test_escape_refused_writes_each_character_out() -> None:
    hostile = "=A\x00\x07\x1b\uffff\u202e\ud800B"
    assert escape_refused(hostile) == "=A[U+0000][U+0007][U+001B][U+FFFF][U+202E][U+D800]B"
    assert escape_refused("大同\t物流\n") == "大同\t物流\n"
