"""Personal identifiers kept the least way possible: keyed hashes for matching, masks for display.

A resident ID number (GB 11643) or a phone number is never stored: the registry keeps an
HMAC-SHA256 of the normalised value under a secret key (`identity_key` in the settings), which is
enough to match a staff list against a member roster, and a masked form for people to read.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from libs.common.validators import mask_id_number, mask_phone, validate_id_number, validate_phone

__all__ = ["IdentityKey", "Person", "mask_id_number", "mask_name", "mask_phone"]


def mask_name(name: str) -> str:
    """A person's name as shown: the first character kept, the rest starred (张**)."""
    text = name.strip()
    if not text:
        return ""
    return text[0] + "*" * max(1, len(text) - 1)


class IdentityKey:
    """Keyed hashes (HMAC-SHA256, hex) of normalised ID numbers and phones.

    Each kind of value is hashed under its own label, so an ID number and a phone with the same
    digits never hash alike, and without the key no hash can be recomputed from a guess.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the identity key must be at least 16 bytes")
        self._key = key

    def _digest(self, label: bytes, value: str) -> str:
        return hmac.new(self._key, label + b"\x00" + value.encode(), hashlib.sha256).hexdigest()

    def id_number(self, normalised: str) -> str:
        return self._digest(b"id_number", normalised)

    def phone(self, normalised: str) -> str:
        return self._digest(b"phone", normalised)

    def person(self, name: str, id_number: str, phone: str | None = None) -> Person:
        """Validate and reduce one person's identifiers (raises `InvalidCode` on a bad value)."""
        number = validate_id_number(id_number)
        mobile = validate_phone(phone) if phone else None
        return Person(
            name=name.strip(),
            id_hash=self.id_number(number),
            id_masked=mask_id_number(number),
            phone_hash=self.phone(mobile) if mobile else None,
            phone_masked=mask_phone(mobile) if mobile else None,
        )


@dataclass(frozen=True)
class Person:
    """One person as the registry keeps them: no raw ID number, no raw phone."""

    name: str
    id_hash: str
    id_masked: str
    phone_hash: str | None = None
    phone_masked: str | None = None

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)
