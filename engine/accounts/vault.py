"""Credentials at rest: encrypted with cryptography's MultiFernet.

Keys come from ENGINE_SECRET_KEYS (comma-separated Fernet keys, the first one encrypts, all of
them decrypt), so a key can be rotated: put the new key first, run ``ghl-engine secrets rotate``,
then drop the old key.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class VaultError(Exception):
    """No usable encryption key, or a stored value that no configured key decrypts."""

    pass


class Vault:
    """Seals and opens credentials with MultiFernet: the first of ``keys`` (Fernet keys, urlsafe
    base64) encrypts, all of them decrypt. Raises VaultError when ``keys`` is empty or holds a
    value that is not a Fernet key."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise VaultError(
                "no encryption key: set ENGINE_SECRET_KEYS to one or more Fernet keys "
                "(generate one with `ghl-engine secrets generate-key`)"
            )
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError:
            raise VaultError("ENGINE_SECRET_KEYS holds a value that is not a Fernet key "
                             "(32 url-safe base64-encoded bytes)") from None
        # sealed token -> its plaintext JSON: a token always opens to the same bytes under this
        # vault's keys, and every action and poll opens its connection's token again
        self._opened: dict[str, bytes] = {}

    def seal(self, data: dict[str, Any]) -> str:
        """``data`` (a JSON-serializable dict) as a Fernet token (str)."""
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        """The dict sealed in ``token``; raises VaultError when no configured key decrypts it."""
        plain = self._opened.get(token)
        if plain is not None:
            return json.loads(plain)  # a new dict each time: callers may change theirs
        try:
            plain = self._fernet.decrypt(token.encode())
            if len(self._opened) >= 10_000:
                self._opened.clear()
            self._opened[token] = plain
            return json.loads(plain)
        except InvalidToken:
            raise VaultError("stored credentials cannot be decrypted with the configured "
                             "ENGINE_SECRET_KEYS (was a key removed too early?)") from None

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted with the first key (same plaintext); raises cryptography's
        InvalidToken when no configured key decrypts it."""
        return self._fernet.rotate(token.encode()).decode()

    @staticmethod
    def generate_key() -> str:
        """A new random Fernet key (44 urlsafe base64 characters)."""
        return Fernet.generate_key().decode()
