"""Outbound URLs chosen by callers (subscription targets, flow webhooks): refused when they
point inside the network, checked when saved and again, after DNS resolution, before each send.

``check_url`` is for saving (syntax, scheme, literal addresses and names resolved now);
``check_before_send`` repeats the address check at delivery time (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from engine.errors import InputInvalid
from engine.settings import Settings


class TargetRefused(InputInvalid):
    pass


def _refuse(field: str, message: str) -> TargetRefused:
    return TargetRefused([{"field": field, "location": "body", "message": message}])


def _bad_address(ip: ipaddress._BaseAddress) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, what in ((ip.is_loopback, "a loopback"), (ip.is_private, "a private"),
                       (ip.is_link_local, "a link-local"), (ip.is_multicast, "a multicast"),
                       (ip.is_unspecified, "an unspecified"), (ip.is_reserved, "a reserved")):
        if test:
            return f"{ip} is {what} address"
    return None


def _resolve(host: str) -> list[ipaddress._BaseAddress]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def check_url(url: str, settings: Settings, field: str = "target_url") -> str:
    """Validate a target URL when it is saved; return it unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _refuse(field, "not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _refuse(field, "must be an absolute https:// URL")
    if parts.scheme == "http" and not settings.allow_http_targets:
        raise _refuse(field, "must use https:// (http is allowed only with ENGINE_ALLOW_HTTP_TARGETS)")
    if parts.username or parts.password:
        raise _refuse(field, "must not carry a user name or password; put a token in the path or query")
    if not settings.allow_private_targets:
        _check_host(parts.hostname, field)
    return url


def _check_host(host: str, field: str) -> None:
    try:
        addresses = _resolve(host)
    except (socket.gaierror, UnicodeError, ValueError):
        raise _refuse(field, f"host {host!r} does not resolve") from None
    for ip in addresses:
        reason = _bad_address(ip)
        if reason:
            raise _refuse(field, f"refused: {host!r} resolves to {reason}; targets must be public "
                                 "internet addresses")


async def check_before_send(url: str, settings: Settings, field: str = "target_url") -> None:
    """Repeat the address check just before a delivery (the name may resolve elsewhere now)."""
    if settings.allow_private_targets:
        return
    host = urlsplit(url).hostname or ""
    await asyncio.get_running_loop().run_in_executor(None, _check_host, host, field)
