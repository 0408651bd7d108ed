"""A person as the registry keeps them: keyed hashes for matching, masks for display.

A resident ID number (GB 11643) or a phone number is never stored: the registry keeps its keyed
hash (`libs.common.identity.IdentityKey` under `identity_key` in the settings), which is enough
to match a staff list against a member roster, and a masked form for people to read.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.common.identity import IdentityKey, mask_name
from libs.common.validators import mask_id_number, mask_phone, validate_id_number, validate_phone


@dataclass(frozen=True)
class Person:
    """One person as the registry keeps them: no raw ID number, no raw phone."""

    name: str
    id_hash: str
    id_masked: str
    phone_hash: str | None = None
    phone_masked: str | None = None

    @classmethod
    def of(cls, key: IdentityKey, name: str, id_number: str, phone: str | None = None) -> Person:
        """Validate and reduce one person's identifiers (raises `InvalidCode` on a bad value)."""
        number = validate_id_number(id_number)
        mobile = validate_phone(phone) if phone else None
        return cls(
            name=name.strip(),
            id_hash=key.id_number(number),
            id_masked=mask_id_number(number),
            phone_hash=key.phone(mobile) if mobile else None,
            phone_masked=mask_phone(mobile) if mobile else None,
        )

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)
