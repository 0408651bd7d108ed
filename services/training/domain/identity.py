"""Persons kept the least way possible: a keyed hash of the ID number for matching, masks for
display. (The registry's approach, kept here on its own: services share no code.)"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date

from libs.common.refusals import Invalid
from libs.common.validators import (
    InvalidCode,
    id_number_birth_date,
    mask_id_number,
    validate_id_number,
)


def mask_name(name: str) -> str:
    """A person's name as shown: the first character kept, the rest starred (张**)."""
    text = name.strip()
    if not text:
        return ""
    return text[0] + "*" * max(1, len(text) - 1)


@dataclass(frozen=True)
class Person:
    """One person as the training service keeps them: no raw ID number, no full name."""

    id_hash: str
    id_masked: str
    name_masked: str
    born_on: date


class IdentityKey:
    """Keyed hashes (HMAC-SHA256, hex) of normalised ID numbers: without the key no hash can be
    recomputed from a guess."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the identity key must be at least 16 bytes")
        self._key = key

    def id_number(self, normalised: str) -> str:
        return hmac.new(
            self._key, b"id_number\x00" + normalised.encode(), hashlib.sha256
        ).hexdigest()

    def person(self, name: str, id_number: str, *, field: str = "id_number") -> Person:
        """Validate and reduce one person's identifiers (an `Invalid` on `field` for a bad ID
        number, never echoing it); the birth date serves the age rule and is not stored."""
        try:
            number = validate_id_number(id_number)
        except InvalidCode as exc:
            raise Invalid(field, exc.reason) from None
        return Person(
            id_hash=self.id_number(number),
            id_masked=mask_id_number(number),
            name_masked=mask_name(name),
            born_on=id_number_birth_date(number),
        )
