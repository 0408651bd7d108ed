"""Workers' personal identifiers kept the least way possible: keyed hashes to match, masks to show.

The approach of the registry's `identity.py`, kept in this service (services do not import each
other): a phone (or an ID number given when declaring membership) is never stored, only an
HMAC-SHA256 of its normalised form under a secret key with a label per kind of value, and a
masked form; a name only masked (张**) and hashed. With the same key as the registry
(`PB_STATIONS_IDENTITY_KEY` = `PB_REGISTRY_IDENTITY_KEY`), the hashes are the registry's own, so
a declared member can be matched there without any raw value crossing.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from libs.common.refusals import Invalid
from libs.common.validators import (
    InvalidCode,
    mask_id_number,
    mask_phone,
    validate_id_number,
    validate_phone,
)


def mask_name(name: str) -> str:
    """A person's name as shown: the first character kept, the rest starred (张**)."""
    text = name.strip()
    return text[0] + "*" * max(1, len(text) - 1) if text else ""


@dataclass(frozen=True)
class Identity:
    """One worker's identifiers as stored: no raw name, no raw phone."""

    name_hash: str
    name_masked: str
    phone_hash: str
    phone_masked: str


class IdentityKey:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the identity key must be at least 16 bytes")
        self._key = key

    def _digest(self, label: bytes, value: str) -> str:
        return hmac.new(self._key, label + b"\x00" + value.encode(), hashlib.sha256).hexdigest()

    def phone(self, normalised: str) -> str:
        return self._digest(b"phone", normalised)

    def id_number(self, normalised: str) -> str:
        return self._digest(b"id_number", normalised)

    def name(self, name: str) -> str:
        return self._digest(b"name", " ".join(name.split()))

    def identity(self, name: str, phone: str) -> Identity:
        """Validate and reduce a worker's name and phone (refused by field, never echoed)."""
        if not name.strip():
            raise Invalid("name", "must not be empty")
        try:
            mobile = validate_phone(phone)
        except InvalidCode as exc:
            raise Invalid("phone", exc.reason) from None
        return Identity(
            name_hash=self.name(name),
            name_masked=mask_name(name),
            phone_hash=self.phone(mobile),
            phone_masked=mask_phone(mobile),
        )

    def id_number_hash(self, raw: str) -> tuple[str, str]:
        """(keyed hash, masked form) of an ID number (refused by field, never echoed)."""
        try:
            number = validate_id_number(raw)
        except InvalidCode as exc:
            raise Invalid("id_number", exc.reason) from None
        return self.id_number(number), mask_id_number(number)
