"""Alembic environment of the coverage service."""

from libs.common.migrations import run_env
from services.coverage.store.tables import metadata

run_env(metadata)
