"""Signatures of GHL's pushed events, checked over the raw request body bytes.

GHL signs each marketplace-app event with Ed25519 and sends the base64 of the 64-byte signature
in ``x-ghl-signature``; the older scheme put a base64 RSA PKCS#1 v1.5 SHA-256 signature in
``x-wh-signature`` (retired on 2026-07-01). Source: GHL's webhook authentication guide and the
official SDKs' webhook managers, which check Ed25519 first and RSA second. Ed25519 signatures
have also been seen under the old header name, so Ed25519 is tried on both headers and RSA last.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from typing import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519_HEADERS = ("x-ghl-signature", "x-wh-signature")
RSA_HEADER = "x-wh-signature"
_HEX32 = re.compile(r"^[0-9a-fA-F]{64}$")


class BadKey(ValueError):
    """A configured public key that cannot be read (the message names the setting)."""


@lru_cache(maxsize=8)
def ed25519_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo), or its 32 raw bytes as hex or
    base64, or base64 of the DER SubjectPublicKeyInfo. Raises :class:`BadKey`."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            raw = bytes.fromhex(text) if _HEX32.match(text) else base64.b64decode(text, validate=True)
            key = (Ed25519PublicKey.from_public_bytes(raw) if len(raw) == 32
                   else serialization.load_der_public_key(raw))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise BadKey("GHL_WEBHOOK_PUBLIC_KEY is not an Ed25519 public key (give PEM, or the 32 "
                        f"key bytes as hex or base64): {type(exc).__name__}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadKey("GHL_WEBHOOK_PUBLIC_KEY holds a key of another kind; it must be Ed25519")
    return key


@lru_cache(maxsize=8)
def rsa_key(text: str) -> rsa.RSAPublicKey:
    """The legacy RSA public key from PEM. Raises :class:`BadKey`."""
    try:
        key = serialization.load_pem_public_key(text.strip().encode())
    except (ValueError, TypeError) as exc:
        raise BadKey("GHL_WEBHOOK_LEGACY_PUBLIC_KEY is not a PEM public key: "
                        f"{type(exc).__name__}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadKey("GHL_WEBHOOK_LEGACY_PUBLIC_KEY must be an RSA public key")
    return key


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def verify(raw: bytes, headers: Mapping[str, str], *, ed25519: str = "",
           legacy_rsa: str = "") -> str | None:
    """The scheme that verifies ``raw`` (``"ed25519"`` or ``"rsa-sha256"``), or None.

    :param raw: the request body exactly as received.
    :param headers: request headers, looked up by lower-case name.
    :param ed25519: the configured Ed25519 public key text ("" when none).
    :param legacy_rsa: the configured RSA public key PEM ("" when none).
    """
    if ed25519:
        key = ed25519_key(ed25519)
        for name in ED25519_HEADERS:
            sig = _b64(headers.get(name) or "")
            if sig is not None and len(sig) == 64:
                try:
                    key.verify(sig, raw)
                    return "ed25519"
                except InvalidSignature:
                    pass
    if legacy_rsa:
        sig = _b64(headers.get(RSA_HEADER) or "")
        if sig:
            try:
                rsa_key(legacy_rsa).verify(sig, raw, padding.PKCS1v15(), hashes.SHA256())
                return "rsa-sha256"
            except InvalidSignature:
                pass
    return None
