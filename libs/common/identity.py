"""Personal identifiers kept the least way possible: keyed hashes to match, masks to show.

A resident ID number (GB 11643), a phone number or a person's name is never stored raw: a
service keeps an HMAC-SHA256 of the normalised value under a secret key (`identity_key` in its
settings), with a label per kind of value, and a masked form for people to read. Every service
hashes here, so with the same key the hashes of one person match across services without any raw
value crossing; they are stored, so the computation never changes (tests/common/test_identity.py
pins it).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["IdentityKey", "mask_name"]


def mask_name(name: str) -> str:
    """A person's name as shown: the first character kept, the rest starred (张**)."""
    text = name.strip()
    return text[0] + "*" * max(1, len(text) - 1) if text else ""


class IdentityKey:
    """Keyed hashes (HMAC-SHA256, hex) of normalised ID numbers, phones and names.

    Each kind of value is hashed under its own label (`label NUL value`), so an ID number and a
    phone with the same digits never hash alike, and without the key no hash can be recomputed
    from a guess.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the identity key must be at least 16 bytes")
        self._key = key

    def _digest(self, label: bytes, value: str) -> str:
        return hmac.new(self._key, label + b"\x00" + value.encode(), hashlib.sha256).hexdigest()

    def id_number(self, normalised: str) -> str:
        """The hash of an ID number as `validate_id_number` normalises it."""
        return self._digest(b"id_number", normalised)

    def phone(self, normalised: str) -> str:
        """The hash of a phone number as `validate_phone` normalises it."""
        return self._digest(b"phone", normalised)

    def name(self, name: str) -> str:
        """The hash of a name, its runs of whitespace made one space (张  三 = 张 三)."""
        return self._digest(b"name", " ".join(name.split()))
