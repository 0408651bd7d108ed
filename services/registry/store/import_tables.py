"""Tables of imports and matching (摸排比对): jobs, source rows, field provenance, conflicts."""

from services.registry.store.tables import metadata

__all__ = ["metadata"]
