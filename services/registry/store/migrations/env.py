"""Alembic environment of the registry service."""

from libs.common.migrations import run_env
from services.registry.store.tables import metadata

run_env(metadata)
