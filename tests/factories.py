"""Valid inputs for tests: organisations with correct credit codes."""

from __future__ import annotations

from typing import Any

from libs.common.validators import credit_code_check_char

REGION = "140212"


def credit_code(n: int) -> str:
    first17 = f"91{REGION}{n:09d}"
    return first17 + credit_code_check_char(first17)


def organization(n: int, **overrides: Any) -> dict[str, Any]:
    body = {
        "credit_code": credit_code(n),
        "name": f"大同市新荣区测试企业{n}有限公司",
        "kind": "enterprise",
        "region_code": "140212101",
        "industry_code": "I6513",
        "staff_count": 12,
    }
    body.update(overrides)
    return body
