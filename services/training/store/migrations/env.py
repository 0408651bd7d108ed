"""Alembic environment of the training service."""

from libs.common.migrations import run_env
from services.training.store.tables import metadata

run_env(metadata)
