"""Re-encrypt every sealed value in Redis with the first key of ENGINE_SECRET_KEYS.

Run after putting a new key first in ENGINE_SECRET_KEYS (``ghl-engine secrets rotate``); when
it reports nothing left under an old key, that key can be removed. Every hash field and string
under the engine's prefix that holds a Fernet token is rotated (connections' credentials,
webhook signing secrets, anything sealed later), each with a compare-and-set so a value written
meanwhile (a refreshed token pair) is never overwritten with an older one.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from redis.asyncio import Redis

from engine.accounts.vault import Vault, VaultError
from engine.core import keys

_FERNET_PREFIX = b"gAAAAA"  # version byte 0x80, base64: every Fernet token starts so

_SET_FIELD_IF = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
"""

_SET_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
"""


@dataclass
class RotationReport:
    """What :func:`rotate_all` did: ``rotated`` values re-encrypted, ``changed_meanwhile`` written
    by someone else during the run, ``unreadable`` keys (``"key field"``) that no configured key
    opens."""

    rotated: int = 0
    changed_meanwhile: int = 0  # written by someone else during the run: already current
    unreadable: list[str] | None = None

    def __post_init__(self) -> None:
        self.unreadable = self.unreadable or []


async def rotate_all(redis: Redis, vault: Vault) -> RotationReport:
    """Re-encrypt every Fernet token stored under the engine's prefix (hash fields and strings)
    with the vault's first key, each by compare-and-set; returns the counts. Scans every key:
    time grows with the store's size."""
    report = RotationReport()
    async for raw_key in redis.scan_iter(match=keys.PREFIX + "*", count=500):
        kind = (await redis.type(raw_key)).decode()
        if kind == "hash":
            for name, value in (await redis.hgetall(raw_key)).items():
                if value.startswith(_FERNET_PREFIX):
                    await _rotate_one(redis, vault, report, raw_key, value, field=name)
        elif kind == "string":
            value = await redis.get(raw_key)
            if value and value.startswith(_FERNET_PREFIX):
                await _rotate_one(redis, vault, report, raw_key, value)
    return report


async def _rotate_one(redis: Redis, vault: Vault, report: RotationReport, key: bytes,
                      value: bytes, field: bytes | None = None) -> None:
    where = key.decode() + (f" {field.decode()}" if field is not None else "")
    try:
        new = vault.rotate(value.decode())
    except (VaultError, InvalidToken, ValueError):
        report.unreadable.append(where)
        return
    if field is not None:
        done = await redis.eval(_SET_FIELD_IF, 1, key, field, value, new)
    else:
        done = await redis.eval(_SET_IF, 1, key, value, new)
    if done:
        report.rotated += 1
    else:
        report.changed_meanwhile += 1
