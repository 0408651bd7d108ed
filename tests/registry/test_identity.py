"""Keyed hashes and masks of personal identifiers (pure domain code, no I/O)."""

from __future__ import annotations

import pytest

from libs.common.identity import IdentityKey, mask_name
from libs.common.validators import InvalidCode
from services.registry.domain.identity import Person
from tests.registry.party_helpers import id_number, phone

KEY = IdentityKey(b"a-test-key-of-enough-length")


def test_hashes_match_across_spellings_and_differ_by_key_and_kind() -> None:
    number = id_number(1)
    spaced = Person.of(KEY, "张三", f"  {number.lower()} ", f"+86 {phone(1)[:3]}-{phone(1)[3:]}")
    plain = Person.of(KEY, "张三", number, phone(1))
    assert (spaced.id_hash, spaced.phone_hash) == (plain.id_hash, plain.phone_hash)
    assert len(plain.id_hash) == 64
    assert number not in plain.id_hash
    other = Person.of(IdentityKey(b"another-key-of-enough-length"), "张三", number, phone(1))
    assert other.id_hash != plain.id_hash
    assert KEY.id_number("13900000001") != KEY.phone("13900000001")


def test_masks_keep_only_what_people_may_read() -> None:
    person = Person.of(KEY, "欧阳娜娜", id_number(2), phone(2))
    assert person.id_masked == id_number(2)[:6] + "********" + id_number(2)[-4:]
    assert person.phone_masked == phone(2)[:3] + "****" + phone(2)[-4:]
    assert person.name_masked == "欧***"
    assert (mask_name("李"), mask_name(" 王五 "), mask_name("")) == ("李*", "王*", "")
    assert Person.of(KEY, "张三", id_number(3)).phone_hash is None


@pytest.mark.parametrize(
    ("number", "telephone", "field"),
    [
        (id_number(4)[:17] + "Y", None, "id_number"),
        (id_number(4)[:16], None, "id_number"),
        (id_number(4), "1234", "phone"),
    ],
)
def test_invalid_identifiers_are_refused_without_echo(
    number: str, telephone: str | None, field: str
) -> None:
    with pytest.raises(InvalidCode) as caught:
        Person.of(KEY, "张三", number, telephone)
    assert caught.value.field == field
    assert number not in str(caught.value)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        IdentityKey(b"short")
