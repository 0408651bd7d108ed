"""Normalised organisation names for matching records across sources (摸排比对).

Sources write the same name differently: full-width and half-width characters, spaces and
punctuation, brackets, letter case, and the legal-form suffix (有限公司 / 有限责任公司 /
股份有限公司 ...). `name_key` maps all of them to one key; two records match by name when their
keys are equal (and their regions agree: that part is the matcher's, in `domain/imports.py`).

What is deliberately kept apart: a branch (分公司, 分店, 分部) is not its head office, a
partnership (合伙企业) is not a company, and the words of the name itself are never guessed at.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: Legal-form endings that sources write in several ways for the same organisation (after
#: brackets are dropped), longest first, and the one form each is keyed as.
_COMPANY_FORMS = (
    "有限责任公司",
    "责任有限公司",
    "股份有限公司",
    "有限公司",
    "股份公司",
)
_COMPANY = "公司"
#: Bracketed notes some sources append and others leave out: (有限合伙), (个体工商户), (普通合伙).
_TRAILING_NOTES = ("有限合伙", "普通合伙", "特殊普通合伙", "个体工商户", "个体", "自然人独资")
#: Spaces, punctuation and symbols of both widths (after NFKC most are ASCII already).
_NOISE = re.compile(
    r"[\s\u3000·・•.,，。、;；:：!！?？'\"“”‘’`~@#$%^&*+=|<>《》〈〉「」『』\-—–_/\\]+"
)
_BRACKETS = re.compile(r"[()（）\[\]【】{}〔〕]")
#: The notes in the two bracket pairs that survive NFKC, in the order they are stripped.
_BRACKETED_NOTES = tuple(
    f"{opening}{note}{closing}" for note in _TRAILING_NOTES for opening, closing in ("()", "[]")
)


@lru_cache(maxsize=1 << 15)
def name_key(name: str) -> str:
    """The matching key of an organisation name: ``'大同市 新荣区（测试）有限责任公司'`` and
    ``'大同市新荣区测试有限公司'`` have the same key.

    Cached: an import asks for the key of the same name while reading, matching and writing."""
    text = unicodedata.normalize("NFKC", name).strip().lower()
    text = _NOISE.sub("", text)
    if text.endswith((")", "]")):
        for bracketed in _BRACKETED_NOTES:
            if text.endswith(bracketed) and len(text) > len(bracketed):
                text = text[: -len(bracketed)]
    text = _BRACKETS.sub("", text)
    if text.endswith(_COMPANY):
        for form in _COMPANY_FORMS:
            if text.endswith(form) and len(text) > len(form):
                return text[: -len(form)] + _COMPANY
    return text
