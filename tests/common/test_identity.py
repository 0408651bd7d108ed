"""The shared keyed hashes: pinned, because stored hashes must keep matching."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from libs.common.identity import IdentityKey, mask_name

KEY = IdentityKey(b"pinned-test-key-0123456789")

# Computed with the services' own copies before they were merged into libs/common/identity.py
# (registry, stations and training agreed on these): a change here breaks every stored hash.
PINNED_ID_NUMBER = "29c4c9d3d8a38176b8da4946b1e5d6fa646cad616f3f32d58b6430482ad290c5"
PINNED_PHONE = "e968d110a9a35012a1bd56f8784e4826b2e74230f688d685d14b62a53606ae65"
PINNED_NAME = "02097cda35ea5a5003cfe3fd6bfd501aaa73f9866d23903d87b8cfd0151d5adc"
PINNED_LONG_NAME = "f3923b4fd92226d642ea2cd0608a8341326d8a2d513f1ddba282769300413bca"


def test_hashes_are_the_stored_ones() -> None:
    assert KEY.id_number("11010519491231002X") == PINNED_ID_NUMBER
    assert KEY.phone("13800138000") == PINNED_PHONE
    assert KEY.name("张 三") == KEY.name(" 张  三 ") == PINNED_NAME
    assert KEY.name("欧阳娜娜") == PINNED_LONG_NAME


def test_each_hash_is_hmac_sha256_of_label_nul_value() -> None:
    raw = b"pinned-test-key-0123456789"
    expected = hmac.new(raw, b"phone\x0013800138000", hashlib.sha256).hexdigest()
    assert KEY.phone("13800138000") == expected


def test_labels_and_keys_keep_hashes_apart() -> None:
    assert KEY.id_number("13800138000") != KEY.phone("13800138000") != KEY.name("13800138000")
    other = IdentityKey(b"another-key-of-enough-length")
    assert other.id_number("11010519491231002X") != PINNED_ID_NUMBER


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        IdentityKey(b"short")


def test_names_are_masked_after_the_first_character() -> None:
    masked = [mask_name(n) for n in ("李", " 王五 ", "欧阳娜娜", "", "  ")]
    assert masked == ["李*", "王*", "欧***", "", ""]
