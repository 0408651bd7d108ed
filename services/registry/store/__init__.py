"""The registry's store. Importing it declares every table on `tables.metadata`."""

from services.registry.store import import_tables, intake_tables, party_tables, tables

__all__ = ["import_tables", "intake_tables", "party_tables", "tables"]
