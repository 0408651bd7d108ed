"""Workers' personal identifiers kept the least way possible: keyed hashes to match, masks to show.

A phone (or an ID number given when declaring membership) is never stored, only its keyed hash
(`libs.common.identity.IdentityKey` under `identity_key` in the settings) and a masked form; a
name only masked (张**) and hashed. With the same key as the registry
(`PB_STATIONS_IDENTITY_KEY` = `PB_REGISTRY_IDENTITY_KEY`), the hashes are the registry's own, so
a declared member can be matched there without any raw value crossing.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.common.identity import IdentityKey, mask_name
from libs.common.refusals import Invalid
from libs.common.validators import (
    InvalidCode,
    mask_id_number,
    mask_phone,
    validate_id_number,
    validate_phone,
)


@dataclass(frozen=True)
class Identity:
    """One worker's identifiers as stored: no raw name, no raw phone."""

    name_hash: str
    name_masked: str
    phone_hash: str
    phone_masked: str

    @classmethod
    def of(cls, key: IdentityKey, name: str, phone: str) -> Identity:
        """Validate and reduce a worker's name and phone (refused by field, never echoed)."""
        if not name.strip():
            raise Invalid("name", "must not be empty")
        try:
            mobile = validate_phone(phone)
        except InvalidCode as exc:
            raise Invalid("phone", exc.reason) from None
        return cls(
            name_hash=key.name(name),
            name_masked=mask_name(name),
            phone_hash=key.phone(mobile),
            phone_masked=mask_phone(mobile),
        )


def id_number_hash(key: IdentityKey, raw: str) -> tuple[str, str]:
    """(keyed hash, masked form) of an ID number (refused by field, never echoed)."""
    try:
        number = validate_id_number(raw)
    except InvalidCode as exc:
        raise Invalid("id_number", exc.reason) from None
    return key.id_number(number), mask_id_number(number)
