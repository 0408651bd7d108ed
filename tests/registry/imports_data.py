"""Files as the offices bring them, for import tests and the import benchmark."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from libs.common.validators import credit_code_check_char

MARKET_HEADER = [
    "统一社会信用代码",
    "企业名称",
    "住所",
    "行政区划代码",
    "行业代码",
    "从业人数",
    "登记状态",
    "法定代表人",
    "法定代表人身份证号",
    "联系电话",
    "成立日期",
]


def credit_code(n: int, *, county: str = "140212", kind: str = "91") -> str:
    first17 = f"{kind}{county}{n:09d}"
    return first17 + credit_code_check_char(first17)


def with_bad_check_char(code: str) -> str:
    return code[:17] + ("0" if code[17] != "0" else "1")


def market_row(n: int, **overrides: str) -> list[str]:
    """A market-supervision registration row, with a legal representative's personal data."""
    row = {
        "统一社会信用代码": credit_code(n),
        "企业名称": f"大同市新荣区导入测试{n}有限公司",
        "住所": f"新荣区测试路{n}号",
        "行政区划代码": "140212101000",
        "行业代码": "I6513",
        "从业人数": str(10 + n % 40),
        "登记状态": "存续（在营、开业、在册）",
        "法定代表人": "张三",
        "法定代表人身份证号": "11010519491231002X",
        "联系电话": "13800138000",
        "成立日期": "2020-01-02",
    }
    row.update(overrides)
    return [row[column] for column in MARKET_HEADER]


def csv_bytes(
    header: Sequence[str], rows: Iterable[Sequence[str]], *, encoding: str = "utf-8"
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)
