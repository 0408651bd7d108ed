"""Text as the HTTP boundary accepts it: the one check every request's strings pass.

A string that reaches a store, an event or an export must be one a person typed: no control
characters (U+0000 breaks PostgreSQL, BEL or ESC an XLSX export), no surrogates or
non-characters (U+FFFF makes a workbook no reader opens), no bidirectional overrides or isolates
(U+202E shows a name backwards, a spoof), and something visible (a zero-width space alone is
not a name). What is accepted is NFC-normalised and trimmed.

Use the types in request models and query parameters, with the length where they are used:
`name: Name = Field(max_length=200)`,
`note: FreeText | None = Field(default=None, max_length=2000)`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

#: Every character refused anywhere, multi-line free text included (tab, LF and CR excepted):
#: C0 and C1 controls and DEL, bidi overrides and isolates, surrogates, non-characters.
_REFUSED_BMP = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff"
    "\ufdd0-\ufdef\ufffe\uffff"
)
#: The last two code points of planes 1-16, also non-characters.
_PLANE_ENDS = "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17)
)
_REFUSED = re.compile(f"[{_REFUSED_BMP}{_PLANE_ENDS}]")
# A class holding the 32 plane ends makes every search ~5x slower: the check on the hot path
# looks for BMP characters, and at astral ones (rare: emoji, CJK extension B) only when there are.
_REFUSED_IN_BMP = re.compile(f"[{_REFUSED_BMP}]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
#: What a single line refuses beyond that: tab, line and paragraph breaks.
_LINE_BREAKS = re.compile("[\t\n\r\u2028\u2029\x85]")
#: Characters that take no space and show nothing (besides whitespace, which `strip` sees).
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Zs", "Zl", "Zp", "Cc"})


def _describe(char: str) -> str:
    code = ord(char)
    label = f"U+{code:04X}"
    if unicodedata.category(char) == "Cc":
        return f"a control character ({label})"
    if 0xD800 <= code <= 0xDFFF:
        return f"a surrogate ({label})"
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        return f"a bidirectional override ({label})"
    return f"a non-character ({label})"


def refused_character(value: str, *, multiline: bool = True) -> str | None:
    """Why `value` cannot be accepted as text (`"contains a control character (U+0000)"`), or
    None. `multiline` allows tab, LF and CR (free text); a single line refuses them too."""
    found = _REFUSED_IN_BMP.search(value) or (_ASTRAL.search(value) and _REFUSED.search(value))
    if found:
        return f"contains {_describe(found.group())}"
    if not multiline:
        broken = _LINE_BREAKS.search(value)
        if broken is not None:
            return f"contains a line break or tab (U+{ord(broken.group()):04X}): one line only"
    return None


def escape_refused(value: str) -> str:
    """`value` with every refused character written out as `[U+XXXX]`: for text from before
    these checks (or from another service's events) on its way into a file a reader parses,
    an XLSX sheet's XML above all, which cannot hold U+0000-U+0008 or U+FFFF."""
    return _REFUSED.sub(lambda found: f"[U+{ord(found.group()):04X}]", value)


def _is_visible(char: str) -> bool:
    return unicodedata.category(char) not in _INVISIBLE_CATEGORIES


def clean_text(value: str, *, multiline: bool = False, collapse_spaces: bool = False) -> str:
    """`value` NFC-normalised and trimmed, or a ValueError saying why it is refused.

    An empty string is left as it is: whether a field may be empty is its `min_length`'s to
    say (or the domain's); a value of only blanks and zero-width characters is refused."""
    if not value:
        return value
    reason = refused_character(value, multiline=multiline)
    if reason is not None:
        raise ValueError(reason)
    text = unicodedata.normalize("NFC", value).strip()
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if collapse_spaces:
        text = " ".join(text.split())
    if not any(_is_visible(char) for char in text):
        raise ValueError("has no visible character")
    return text


def _line(value: str) -> str:
    return clean_text(value)


def _name(value: str) -> str:
    return clean_text(value, collapse_spaces=True)


def _free(value: str) -> str:
    return clean_text(value, multiline=True)


#: One line of text: an id, a code, a reason, an address, a search term.
Text = Annotated[str, AfterValidator(_line)]
#: A name (of an organisation, a station, a person, a course): one line, runs of spaces as one.
Name = Annotated[str, AfterValidator(_name)]
#: Free text that may span lines (a request's description, a note): tab and line breaks allowed.
FreeText = Annotated[str, AfterValidator(_free)]
#: Text another service sent in an event, kept as it came except for what no store or file can
#: hold (U+0000 on PostgreSQL above all): refused characters written out as [U+XXXX]. An event
#: from before the boundary checked its text is applied, never dead-lettered for its name.
EventText = Annotated[str, AfterValidator(escape_refused)]
