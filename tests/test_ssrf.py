"""Outbound-URL guard with the guard ON: every internal address is refused with a clear message
and no connection is attempted (an audit hook records every socket connect of this process,
and a listener on loopback counts what reaches it)."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading

import httpx
import pytest

from engine.core.settings import Settings
from engine.polling import targets
from tests.conftest import make_key
from tests.support import ServerThread

_connects: list[tuple] = []
_recording = threading.Event()


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect" and _recording.is_set():
        _connects.append(args[1])


sys.addaudithook(_audit)


class Listener:
    """A TCP listener on loopback that counts the connections it accepts."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1") -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


def _settings(*, private: bool, http: bool) -> Settings:
    settings = Settings().model_copy(update={"allow_private_targets": private,
                                             "allow_http_targets": http})
    assert settings.allow_private_targets is private
    return settings


@pytest.fixture
def guard_on() -> Settings:
    return _settings(private=False, http=False)


def _loopback_hostname() -> str | None:
    """This machine's own name when it resolves to loopback (a name, not a literal)."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return None
    return name if infos and all(i[4][0].startswith("127.") for i in infos) else None


def _cases(port: int) -> list[tuple[str, str]]:
    cases = [
        (f"https://127.0.0.1:{port}/hook", "loopback"),
        (f"https://localhost:{port}/hook", "loopback"),
        (f"https://[::1]:{port}/hook", "loopback"),
        ("https://10.0.0.1/hook", "private"),
        ("https://172.16.0.1/hook", "private"),
        ("https://192.168.0.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        (f"https://0.0.0.0:{port}/hook", "unspecified"),
        (f"https://2130706433:{port}/hook", "loopback"),
        (f"https://0x7f000001:{port}/hook", "loopback"),
        (f"https://[::ffff:127.0.0.1]:{port}/hook", "loopback"),
        (f"https://127.1:{port}/hook", "loopback"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://[fd00::1]/hook", "private"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://100.64.0.1/hook", "non-public"),
        ("https://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ]
    name = _loopback_hostname()
    if name:
        cases.append((f"https://{name}:{port}/hook", "loopback"))
    return cases


def _internal(addr) -> bool:
    host = addr[0] if isinstance(addr, tuple) else str(addr)
    return host.startswith(("10.", "172.16.", "192.168.", "169.254.", "0.", "224.", "100.64.",
                            "fe80", "fd00"))


def test_every_internal_address_is_refused_when_saved_and_sent(listener, guard_on):
    _connects.clear()
    _recording.set()
    try:
        for url, kind in _cases(listener.port):
            with pytest.raises(targets.TargetRefused) as info:
                targets.check_url(url, guard_on)
            message = info.value.details[0]["message"]
            assert info.value.details[0]["field"] == "target_url"
            assert kind in message and "refused" in message, (url, message)
            with pytest.raises(targets.TargetRefused):
                asyncio.run(targets.check_before_send(url, guard_on))
    finally:
        _recording.clear()
    assert listener.accepted == 0
    assert _connects == []  # not one connection attempted, to loopback or anywhere
    # the hook does see connections: a control connect to the listener is recorded
    _recording.set()
    try:
        socket.create_connection(("127.0.0.1", listener.port), timeout=2).close()
    finally:
        _recording.clear()
    assert _connects == [("127.0.0.1", listener.port)]


def test_guarded_client_refuses_before_connecting(listener):
    settings = _settings(private=False, http=True)

    async def go() -> None:
        async with targets.guarded_client(settings, timeout=2) as client:
            for url in (f"http://127.0.0.1:{listener.port}/", f"http://localhost:{listener.port}/",
                        f"http://2130706433:{listener.port}/", "http://10.0.0.1/",
                        "http://169.254.169.254/latest/meta-data/"):
                with pytest.raises(httpx.ConnectError, match="^refused: "):
                    await client.post(url, content=b"{}")

    _connects.clear()
    _recording.set()
    try:
        asyncio.run(go())
    finally:
        _recording.clear()
    assert listener.accepted == 0 and not [a for a in _connects if _internal(a)]
    assert not [a for a in _connects if isinstance(a, tuple) and a[1] == listener.port]


def test_guarded_client_reads_capped_and_does_not_follow_redirects(api_server, sandbox_server,
                                                                   listener):
    """With the address guard off (loopback receivers), the client still never follows a
    redirect and reads no more than the cap."""
    settings = _settings(private=True, http=True)
    bounce = (sandbox_server.url + "/oauth/chooselocation?response_type=code&client_id="
              f"sandbox-client-id&redirect_uri=http://127.0.0.1:{listener.port}/elsewhere")

    async def go():
        async with targets.guarded_client(settings, timeout=5) as client:
            async with client.stream("GET", api_server.url + "/openapi.json") as streamed:
                body = await targets.read_capped(streamed, 100)
            assert len(body) == 100
            redirect = await client.get(bounce)
            assert redirect.status_code == 302
            assert redirect.headers["location"].startswith(f"http://127.0.0.1:{listener.port}/")

    asyncio.run(go())
    assert listener.accepted == 0


def test_http_and_user_info_and_junk_are_refused(guard_on):
    for url, words in (("http://example.com/hook", "https"),
                       ("https://user:pw@example.com/hook", "user name"),
                       ("ftp://example.com/x", "https"), ("https://", "https"),
                       ("https://exa mple.com/", "spaces"), ("https://x.com:99999/", "valid"),
                       ("https://" + "a" * 3000 + ".com/", "2048")):
        with pytest.raises(targets.TargetRefused) as info:
            targets.check_url(url, guard_on)
        assert words in info.value.details[0]["message"], (url, info.value.details)


def test_a_url_that_is_not_http_says_what_is_accepted_under_the_setting(guard_on):
    with pytest.raises(targets.TargetRefused) as info:
        targets.check_url("ftp://x", guard_on)
    assert info.value.details[0]["message"] == (
        "must be an absolute https:// URL (http:// only when ENGINE_ALLOW_HTTP_TARGETS is on)")
    http_on = guard_on.model_copy(update={"allow_http_targets": True})
    with pytest.raises(targets.TargetRefused) as info:
        targets.check_url("ftp://x", http_on)
    assert info.value.details[0]["message"] == (
        "must be an absolute http:// or https:// URL (http:// is allowed because "
        "ENGINE_ALLOW_HTTP_TARGETS is on)")


def test_subscription_route_refuses_internal_targets(sandbox_server, listener, tenant):
    """POST /v1/subscriptions on an engine with the guard on: 422 naming target_url."""
    from api.app import create_app
    from engine.core.settings import get_settings

    settings = get_settings().model_copy(update={"allow_private_targets": False,
                                                 "allow_http_targets": False})
    server = ServerThread(create_app(settings)).start()
    key = make_key(tenant)
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"},
                          timeout=30) as api:
            conn = api.post("/v1/connections", json={"token": "pit-sandbox-token",
                                                     "location_id": "loc_sandbox0000000001"})
            assert conn.status_code == 201, conn.text
            _connects.clear()
            _recording.set()
            try:
                for url, kind in _cases(listener.port):
                    resp = api.post("/v1/subscriptions", json={
                        "trigger": "contacts.search_contacts", "connection_id": conn.json()["id"],
                        "target_url": url})
                    assert resp.status_code == 422, (url, resp.text)
                    err = resp.json()["error"]
                    assert err["details"][0]["field"] == "target_url"
                    assert kind in err["details"][0]["message"], (url, err)
            finally:
                _recording.clear()
            assert api.get("/v1/subscriptions").json()["subscriptions"] == []
    finally:
        server.stop()
    assert listener.accepted == 0
    assert not [a for a in _connects if _internal(a)]
    assert not [a for a in _connects if isinstance(a, tuple) and a[1] == listener.port]
