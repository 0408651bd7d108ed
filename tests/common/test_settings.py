"""Settings name the development-only secrets still in use, so a service warns at start."""

from __future__ import annotations

from pydantic import SecretStr

from libs.common.settings import DEVELOPMENT_AUTH_SECRET, ServiceSettings
from services.registry.settings import DEVELOPMENT_IDENTITY_KEY, RegistrySettings

DEV_AUTH = SecretStr(DEVELOPMENT_AUTH_SECRET)


def test_development_secrets_are_named_until_replaced() -> None:
    assert ServiceSettings(auth_secret=DEV_AUTH).development_keys() == ["PB_AUTH_SECRET"]
    assert ServiceSettings(auth_secret=SecretStr("x" * 40)).development_keys() == []
    development = RegistrySettings(
        auth_secret=DEV_AUTH, identity_key=SecretStr(DEVELOPMENT_IDENTITY_KEY)
    )
    assert development.development_keys() == ["PB_AUTH_SECRET", "PB_REGISTRY_IDENTITY_KEY"]
    configured = RegistrySettings(auth_secret=SecretStr("x" * 40), identity_key=SecretStr("y" * 40))
    assert configured.development_keys() == []
