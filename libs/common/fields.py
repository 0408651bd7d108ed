"""Pydantic field types for request and event models, built on the code validators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, Field

from libs.common.validators import (
    InvalidCode,
    canonical_region_code,
    validate_credit_code,
    validate_region_code,
)


def _reasoned(check: Callable[[str], str]) -> Callable[[str], str]:
    """Turn an `InvalidCode` into the ValueError pydantic reports, with its reason only."""

    def validate(value: str) -> str:
        try:
            return check(value)
        except InvalidCode as exc:
            raise ValueError(exc.reason) from None

    return validate


def _region(value: str) -> str:
    return canonical_region_code(validate_region_code(value))


CreditCode = Annotated[
    str,
    AfterValidator(_reasoned(validate_credit_code)),
    Field(
        description="Unified social credit code (统一社会信用代码, GB 32100-2015)",
        examples=["91350100M000100Y43"],
    ),
]
RegionCode = Annotated[
    str,
    AfterValidator(_reasoned(_region)),
    Field(
        description="Statistical division code, 2/4/6/9/12 digits; stored in canonical form",
        examples=["140212"],
    ),
]
