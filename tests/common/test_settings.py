"""Settings name the development-only secrets still in use, so a service warns at start; the
role says what a process runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from libs.common.service import Runtime
from libs.common.settings import DEVELOPMENT_AUTH_SECRET, DEVELOPMENT_IDENTITY_KEY, ServiceSettings
from services.registry.app import definition
from services.registry.settings import RegistrySettings
from services.stations.settings import StationsSettings
from services.training.settings import TrainingSettings

DEV_AUTH = SecretStr(DEVELOPMENT_AUTH_SECRET)


def test_development_secrets_are_named_until_replaced() -> None:
    assert ServiceSettings(auth_secret=DEV_AUTH).development_keys() == ["PB_AUTH_SECRET"]
    assert ServiceSettings(auth_secret=SecretStr("x" * 40)).development_keys() == []
    development = RegistrySettings(
        auth_secret=DEV_AUTH, identity_key=SecretStr(DEVELOPMENT_IDENTITY_KEY)
    )
    assert development.development_keys() == ["PB_AUTH_SECRET", "PB_IDENTITY_KEY"]
    configured = RegistrySettings(auth_secret=SecretStr("x" * 40), identity_key=SecretStr("y" * 40))
    assert configured.development_keys() == []


def test_one_identity_key_for_every_service_a_service_key_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stations' hash of a phone must be the registry's, or a declared member never matches.
    monkeypatch.setenv("PB_IDENTITY_KEY", "s" * 40)
    keys = {
        cls().identity_key.get_secret_value()
        for cls in (RegistrySettings, StationsSettings, TrainingSettings)
    }
    assert keys == {"s" * 40}
    monkeypatch.setenv("PB_TRAINING_IDENTITY_KEY", "t" * 40)
    assert TrainingSettings().identity_key.get_secret_value() == "t" * 40
    assert RegistrySettings().identity_key.get_secret_value() == "s" * 40


@pytest.mark.parametrize(
    ("role", "relay_process", "works", "relays", "serves_api"),
    [
        ("all", False, True, True, True),
        ("all", True, True, False, True),
        ("api", False, False, False, True),
        ("worker", False, True, True, False),
        ("worker", True, True, False, False),
        ("relay", False, False, True, False),
        ("relay", True, False, True, False),
    ],
)
def test_what_each_role_runs(
    tmp_path: Path, role: str, relay_process: bool, works: bool, relays: bool, serves_api: bool
) -> None:
    """A process consumes and runs the workers (all, worker), relays the outbox (relay, or all
    and worker unless a relay process does) and serves the routes (all, api)."""
    settings = RegistrySettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
        role=role,
        relay_process=relay_process,
        tracing_exporter="none",
    )
    runtime = Runtime(definition(settings), None)
    assert (runtime.works, runtime.relays, runtime.serves_api) == (works, relays, serves_api)
