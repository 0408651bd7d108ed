"""A person as the training service keeps them: the keyed hash of the ID number for matching
(`libs.common.identity.IdentityKey`, the same hashes as the registry's under the same key), masks
for display."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from libs.common.identity import IdentityKey, mask_name
from libs.common.refusals import Invalid
from libs.common.validators import (
    InvalidCode,
    id_number_birth_date,
    mask_id_number,
    validate_id_number,
)


@dataclass(frozen=True)
class Person:
    """One person as the training service keeps them: no raw ID number, no full name."""

    id_hash: str
    id_masked: str
    name_masked: str
    born_on: date

    @classmethod
    def of(cls, key: IdentityKey, name: str, id_number: str, *, field: str = "id_number") -> Person:
        """Validate and reduce one person's identifiers (an `Invalid` on `field` for a bad ID
        number, never echoing it); the birth date serves the age rule and is not stored."""
        try:
            number = validate_id_number(id_number)
        except InvalidCode as exc:
            raise Invalid(field, exc.reason) from None
        return cls(
            id_hash=key.id_number(number),
            id_masked=mask_id_number(number),
            name_masked=mask_name(name),
            born_on=id_number_birth_date(number),
        )
