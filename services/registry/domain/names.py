"""Normalised organisation names for matching records across sources (摸排比对).

Sources write the same name differently: full-width and half-width characters, spaces and
punctuation, brackets, and the legal-form suffix (有限公司 / 有限责任公司 / 股份有限公司 ...).
`name_key` maps all of them to one key; two records match by name when their keys are equal.
"""

from __future__ import annotations

import re
import unicodedata

#: Legal-form endings that vary between sources for the same organisation, longest first.
_LEGAL_FORMS = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "责任有限公司",
    "有限合伙",
    "合伙企业",
    "个体工商户",
)
_NOISE = re.compile(r"[\s\u3000·・.,，。、'\"“”‘’()（）\[\]【】{}<>《》\-—_/\\]+")


def name_key(name: str) -> str:
    """The matching key of an organisation name."""
    text = unicodedata.normalize("NFKC", name).strip().lower()
    text = _NOISE.sub("", text)
    for form in _LEGAL_FORMS:
        if text.endswith(form) and len(text) > len(form):
            text = text[: -len(form)] + "有限"
            break
    return text
