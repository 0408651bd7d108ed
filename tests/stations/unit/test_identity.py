"""Workers' identifiers reduced to keyed hashes and masks, without a store."""

from __future__ import annotations

import pytest

from libs.common.identity import IdentityKey
from libs.common.refusals import Invalid
from services.stations.domain.identity import Identity, id_number_hash

KEY = IdentityKey(b"k" * 32)


def test_the_same_phone_in_any_form_hashes_alike_and_is_masked() -> None:
    a = Identity.of(KEY, "王小明", "13912345678")
    b = Identity.of(KEY, " 王小明 ", "+86 139-1234-5678")
    assert a == b
    assert (a.name_masked, a.phone_masked) == ("王**", "139****5678")
    assert "13912345678" not in repr(a)


def test_labels_and_keys_keep_hashes_apart() -> None:
    assert KEY.phone("13912345678") != KEY.id_number("13912345678")
    assert IdentityKey(b"j" * 32).phone("13912345678") != KEY.phone("13912345678")


def test_bad_values_are_refused_by_field_without_echo() -> None:
    with pytest.raises(Invalid) as refused:
        Identity.of(KEY, "王小明", "1391234")
    assert refused.value.field == "phone"
    assert "1391234" not in str(refused.value)
    with pytest.raises(Invalid) as refused:
        id_number_hash(KEY, "140212199001011230")
    assert refused.value.field == "id_number"
    with pytest.raises(ValueError, match="16 bytes"):
        IdentityKey(b"short")
