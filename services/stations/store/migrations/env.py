"""Alembic environment of the stations service."""

from libs.common.migrations import run_env
from services.stations.store.tables import metadata

run_env(metadata)
