"""Name keys: the variants sources write for one organisation match, different ones do not."""

from __future__ import annotations

import pytest

from services.registry.domain.names import name_key


@pytest.mark.parametrize(
    "variant",
    [
        "大同市新荣区测试物流有限公司",
        "大同市新荣区测试物流有限责任公司",
        "大同市新荣区测试物流责任有限公司",
        "大同市 新荣区 测试物流有限公司",
        "大同市新荣区（测试）物流有限公司",
        "大同市新荣区【测试】物流有限公司",
        "大同市新荣区测试物流有限公司 ",
        "大同市新荣区测试物流公司",
    ],
)
def test_variants_of_one_company_share_a_key(variant: str) -> None:
    assert name_key(variant) == name_key("大同市新荣区测试物流有限公司")


def test_width_case_and_punctuation() -> None:
    assert name_key("ＡＢＣ科技（大同）有限公司") == name_key("abc科技大同有限公司")
    assert name_key("大同·新荣“暖新”驿站服务中心") == name_key("大同新荣暖新驿站服务中心")
    assert name_key("某投资合伙企业（有限合伙）") == name_key("某投资合伙企业")
    assert name_key("张三小吃店（个体工商户）") == name_key("张三小吃店")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("大同市测试物流有限公司", "大同市测试物流有限公司新荣分公司"),
        ("大同市测试物流有限公司", "大同市测试快递有限公司"),
        ("大同市测试投资合伙企业", "大同市测试投资有限公司"),
    ],
)
def test_different_organisations_keep_different_keys(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


def test_a_bare_legal_form_is_not_emptied() -> None:
    assert name_key("有限公司") == "有限公司"
