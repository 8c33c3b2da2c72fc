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
    pass


class Vault:
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

    def seal(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise VaultError("stored credentials cannot be decrypted with the configured "
                             "ENGINE_SECRET_KEYS (was a key removed too early?)") from None

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()
