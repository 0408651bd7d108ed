"""Logs never carry an ID number or a phone, even when code or a library passes one."""

from __future__ import annotations

import json
import logging

import pytest

from libs.common.logging import configure_logging, get_logger, scrub


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id 11010519491231002X here", "id 110105********002X here"),
        ("call 13812345678 now", "call 138****5678 now"),
        ("credit 91350100M000100Y43 stays", "credit 91350100M000100Y43 stays"),
        ("order 123456789012345678901234", "order 123456789012345678901234"),
    ],
)
def test_scrub_masks_sensitive_numbers_only(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_log_lines_are_json_and_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", fmt="json", service="test")
    get_logger("t").info("matched staff", detail="id 11010519491231002X phone 13812345678")
    logging.getLogger("some.library").warning("raw 11010519491231002X")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    text = json.dumps(lines, ensure_ascii=False)
    assert "11010519491231002X" not in text
    assert "13812345678" not in text
    assert lines[0]["service"] == "test"
    assert lines[0]["level"] == "info"
