"""Outbound URLs chosen by callers (subscription targets, flow webhooks): refused when they
point inside the network.

- ``check_url`` when a URL is saved: syntax, https (http only with ENGINE_ALLOW_HTTP_TARGETS),
  no user info, and every address the host resolves to must be a public internet address.
- ``check_before_send`` repeats the address check just before each delivery (the name may
  resolve elsewhere now: DNS rebinding).
- ``guarded_client`` is an httpx client for sending to such URLs that closes the last gap: it
  resolves the host itself, checks every address, and connects to the address it checked (TLS
  still verifies the host name), never follows redirects and ignores proxy variables.
  ``read_capped`` reads at most a given number of bytes of an answer.

Refused: loopback, private (RFC 1918, unique-local), link-local (169.254/16, fe80::/10, the
cloud metadata address among them), multicast, unspecified (0.0.0.0, ::), reserved, shared
(100.64/10) and any other non-global address; IPv4 written in decimal, hex or octal and IPv4
embedded in IPv6 (``::ffff:127.0.0.1``, 6to4, Teredo, NAT64) are checked as the IPv4 address
they are. ENGINE_ALLOW_PRIVATE_TARGETS turns the address checks off (development and tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from typing import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

from engine.core.errors import InputInvalid
from engine.core.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
METADATA_ADDRESSES = {ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")}
METADATA_NAMES = {"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                  "instance-data.ec2.internal"}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(InputInvalid):
    """422: a webhook target URL the outbound guard refuses (not https, a private, loopback or
    cloud-metadata address, too long …); ``details``: ``[{field, location, message}]``."""

    pass


def _refuse(field: str, message: str) -> TargetRefused:
    return TargetRefused([{"field": field, "location": "body", "message": message}])


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    out = []
    if ip.ipv4_mapped is not None:
        out.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        out.append(ip.sixtofour)
    if ip.teredo is not None:
        out.extend(ip.teredo)
    if ip in _NAT64:
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return out


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be a target, or None for a public internet address."""
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(ip):
            problem = address_problem(inner)
            if problem:
                return f"{ip} embeds {problem}"
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    for test, what in ((ip.is_unspecified, "an unspecified"), (ip.is_loopback, "a loopback"),
                       (ip.is_link_local, "a link-local"), (ip.is_multicast, "a multicast"),
                       (ip.is_private, "a private"), (ip.is_reserved, "a reserved"),
                       (not ip.is_global, "a non-public")):
        if test:
            return f"{ip} is {what} address"
    return None


def _literal(host: str) -> IPAddress | None:
    """The address a host names literally, in any form a resolver accepts (``2130706433``,
    ``0x7f000001``, ``127.1``, ``0177.0.0.1``, ``::ffff:127.0.0.1``), else None."""
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _resolve(host: str) -> list[IPAddress]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _check_addresses(host: str, addresses: Iterable[IPAddress], field: str) -> None:
    found = False
    for ip in addresses:
        found = True
        reason = address_problem(ip)
        if reason:
            literal = _literal(host)
            shown = (f"{host!r} resolves to " if literal is None
                     else f"{host!r} means " if str(literal) != host else "")
            raise _refuse(field, f"refused: {shown}{reason}; targets must be public internet "
                                 "addresses")
    if not found:
        raise _refuse(field, f"host {host!r} does not resolve")


def _check_host(host: str, field: str) -> list[IPAddress]:
    name = host.lower().rstrip(".")
    if name in METADATA_NAMES:
        raise _refuse(field, f"refused: {host!r} is a cloud metadata host")
    if name == "localhost" or name.endswith(".localhost"):
        raise _refuse(field, f"refused: {host!r} is a loopback name; targets must be public "
                             "internet addresses")
    try:
        addresses = _resolve(host)
    except (socket.gaierror, UnicodeError, ValueError):
        raise _refuse(field, f"host {host!r} does not resolve") from None
    _check_addresses(host, addresses, field)
    return addresses


def _check_syntax(url: str, settings: Settings, field: str) -> str:
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise _refuse(field, f"must be a URL of at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise _refuse(field, "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise _refuse(field, "not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _refuse(field, "must be an absolute http:// or https:// URL (http:// is allowed "
                             "because ENGINE_ALLOW_HTTP_TARGETS is on)"
                      if settings.allow_http_targets else
                      "must be an absolute https:// URL (http:// only when "
                      "ENGINE_ALLOW_HTTP_TARGETS is on)")
    if parts.scheme == "http" and not settings.allow_http_targets:
        raise _refuse(field, "must use https:// (http is allowed only with ENGINE_ALLOW_HTTP_TARGETS)")
    if parts.username or parts.password or "@" in parts.netloc:
        raise _refuse(field, "must not carry a user name or password; put a token in the path or query")
    return parts.hostname


def check_url(url: str, settings: Settings, field: str = "target_url") -> str:
    """Validate a target URL when it is saved; return it unchanged."""
    host = _check_syntax(url, settings, field)
    if not settings.allow_private_targets:
        _check_host(host, field)
    return url


async def check_before_send(url: str, settings: Settings, field: str = "target_url") -> None:
    """Repeat the checks just before a delivery (the name may resolve elsewhere now)."""
    host = _check_syntax(url, settings, field)
    if settings.allow_private_targets:
        return
    await asyncio.get_running_loop().run_in_executor(None, _check_host, host, field)


# ----------------------------------------------------------------------------- sending


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, and connects to a checked address only."""

    def __init__(self) -> None:
        from httpcore._backends.auto import AutoBackend

        self._inner = AutoBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options=None):
        loop = asyncio.get_running_loop()
        try:
            addresses = await loop.run_in_executor(None, _check_host, host, "target_url")
        except TargetRefused as exc:  # surfaces as httpx.ConnectError carrying the reason
            raise httpcore.ConnectError(exc.details[0]["message"]) from None
        return await self._inner.connect_tcp(str(addresses[0]), port, timeout=timeout,
                                             local_address=local_address,
                                             socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise httpcore.ConnectError("refused: unix sockets are not targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


_TLS: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    """One TLS context (system CA bundle, verification on) for every guarded client: building
    one loads the CA certificates, which cost more CPU than the webhook it would send."""
    global _TLS
    if _TLS is None:
        _TLS = httpx.create_ssl_context()
    return _TLS


def guarded_client(settings: Settings, timeout: float = 10.0, **kwargs) -> httpx.AsyncClient:
    """An httpx client for caller-chosen URLs: checked addresses only, no redirects, no proxies;
    ``timeout`` in seconds (httpx's).

    A refused address fails the send with ``httpx.ConnectError`` whose message starts with
    "refused:" (no connection was attempted)."""
    transport = httpx.AsyncHTTPTransport(retries=0, verify=_tls_context())
    if not settings.allow_private_targets:
        # httpx takes no network backend parameter; its httpcore pool does (tests/test_ssrf.py
        # proves this guard refuses before any connection)
        transport._pool._network_backend = _GuardedBackend()
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False,
                             trust_env=False, **kwargs)


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """At most ``cap`` bytes of a streamed answer's body; the rest is not read."""
    out = bytearray()
    async for chunk in response.aiter_raw():
        out += chunk[: max(0, cap - len(out))]
        if len(out) >= cap:
            break
    return bytes(out)
