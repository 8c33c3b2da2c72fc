"""The sandbox pushes events the way GHL does: JSON bodies signed with Ed25519.

The sandbox's signing key is fixed (derived from a constant), so an engine pointed at the
sandbox can be configured with :data:`PUBLIC_KEY_B64` (``make dev`` does it). It is a key for
local development only and signs nothing but sandbox events.

The signature goes in ``x-ghl-signature``: base64 of the 64-byte Ed25519 signature over the raw
body bytes, as GHL sends it (GHL's webhook authentication guide).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_PRIVATE = Ed25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"ghl-engine sandbox webhook signing key").digest())
PUBLIC_KEY_B64 = base64.b64encode(_PRIVATE.public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
PUBLIC_KEY_PEM = _PRIVATE.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign(raw: bytes) -> str:
    """The ``x-ghl-signature`` value for a body: base64 of its Ed25519 signature."""
    return base64.b64encode(_PRIVATE.sign(raw)).decode()
