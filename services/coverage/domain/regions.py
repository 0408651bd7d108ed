"""The region a request names: a division code, in its canonical form."""

from __future__ import annotations

from libs.common.refusals import Invalid
from libs.common.validators import InvalidCode, canonical_region_code


class NotARegion(Invalid):
    """What was given as a region code is not a division code."""


def region_code(raw: str) -> str:
    """The canonical division code of `raw`, or NotARegion."""
    try:
        return canonical_region_code(raw)
    except InvalidCode as exc:
        raise NotARegion("region_code", exc.reason, message="not a division code") from None
