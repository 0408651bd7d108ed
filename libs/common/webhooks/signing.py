"""Standard Webhooks signatures, and the sealing of signing secrets at rest.

A delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`:
`v1,` and the base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}` keyed with the secret's bytes
(https://www.standardwebhooks.com/). The store keeps a secret sealed with the service's
`webhook_secret_key`: HMAC-SHA256 in counter mode as the key stream and an HMAC-SHA256 tag over
nonce and ciphertext (encrypt-then-MAC, standard library only), so a copy of the database alone
does not sign deliveries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SIGNATURE_VERSION = "v1"
_SEAL_VERSION = "s1"
_NONCE_BYTES = 16
_TAG_BYTES = 32


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of one delivery attempt."""
    signed = b"%s.%d.%s" % (message_id.encode(), timestamp, body)
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, message_id, timestamp, body),
    }


class UnsealError(ValueError):
    """A sealed secret that this key did not seal, or that was altered."""


def _keys(master: bytes) -> tuple[bytes, bytes]:
    return (
        hmac.new(master, b"pb-webhook-secret-encrypt", hashlib.sha256).digest(),
        hmac.new(master, b"pb-webhook-secret-authenticate", hashlib.sha256).digest(),
    )


def _stream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    return b"".join(
        hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(blocks)
    )[:length]


def seal(master: bytes, plain: str) -> str:
    """`plain` encrypted and authenticated under `master`, as text for the store."""
    encrypt, authenticate = _keys(master)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    data = plain.encode()
    cipher = bytes(a ^ b for a, b in zip(data, _stream(encrypt, nonce, len(data)), strict=True))
    tag = hmac.new(authenticate, nonce + cipher, hashlib.sha256).digest()
    return f"{_SEAL_VERSION}.{base64.b64encode(nonce + cipher + tag).decode()}"


def unseal(master: bytes, sealed: str) -> str:
    """What `seal` sealed; `UnsealError` when the key is another or the text was altered."""
    version, _, text = sealed.partition(".")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise UnsealError("not a sealed secret") from None
    if version != _SEAL_VERSION or len(raw) < _NONCE_BYTES + _TAG_BYTES:
        raise UnsealError("not a sealed secret")
    encrypt, authenticate = _keys(master)
    nonce, cipher, tag = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:-_TAG_BYTES], raw[-_TAG_BYTES:]
    expected = hmac.new(authenticate, nonce + cipher, hashlib.sha256).digest()
    if not hmac.compare_digest(tag, expected):
        raise UnsealError("the secret was sealed with another key, or altered")
    stream = _stream(encrypt, nonce, len(cipher))
    return bytes(a ^ b for a, b in zip(cipher, stream, strict=True)).decode()
