"""Tables of members, Party organisations, instructors and mass organisations."""

from services.registry.store.tables import metadata

__all__ = ["metadata"]
