"""The coverage consumer's batch size follows the store unless it is set."""

from __future__ import annotations

import pytest

from services.coverage.settings import CoverageSettings


def test_the_batch_follows_the_store_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PB_COVERAGE_INBOX_BATCH_SIZE", raising=False)
    assert CoverageSettings(database_url="sqlite+aiosqlite:///x.db").inbox_batch_size == 4000
    assert CoverageSettings().inbox_batch_size == 4000  # the SQLite default
    postgresql = "postgresql+asyncpg://127.0.0.1/test"
    assert CoverageSettings(database_url=postgresql).inbox_batch_size == 2000
    assert CoverageSettings(database_url=postgresql, inbox_batch_size=500).inbox_batch_size == 500
    monkeypatch.setenv("PB_COVERAGE_INBOX_BATCH_SIZE", "300")
    assert CoverageSettings(database_url=postgresql).inbox_batch_size == 300
