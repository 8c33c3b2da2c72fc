"""A stand-in for SMSGlobal's REST API v2, served by the sandbox app under ``/v2``.

It checks the MAC signature as SMSGlobal does (403 ``Unknown Authentication Error`` for a bad
mac, an unknown key, a reused nonce or a ts more than five minutes off), and keeps what a client
can see: sent messages (``sent``, then ``delivered`` after ``delivery_seconds``, or any status
set through a control route; a message to an opted-out number is ``undelivered``), incoming
messages, OTPs (the code is in the text sent), opt-outs, groups and their contacts. A send with a
``notifyUrl`` gets its delivery receipt POSTed there ({id, outgoing_id, status, update_time})
after ``delivery_seconds``; a share ``failure_share`` of sends ends ``undelivered``. A reply
from a number is POSTed to the ``incomingUrl`` of the last send to it, else to the account's
``incoming_url``.
Data lives in the sandbox's shared store, so ``POST /_sandbox/reset`` clears it too.

Sandbox-only control routes (no signature needed):

    POST /_sandbox/smsglobal/incoming        {origin, destination, message}  a phone texts you
                                             (a message "STOP" also opts the sender out); pushed
                                             to the incomingUrl of the last send to that number
    POST /_sandbox/smsglobal/incoming/{id}/push   push that incoming message again
    GET  /_sandbox/smsglobal/pushes          what was pushed, where, and the answer
    GET  /_sandbox/smsglobal/messages        what was sent (OTP texts included, with their codes)
    POST /_sandbox/smsglobal/messages/{id}/status   {status}  move a sent message on
    GET  /_sandbox/smsglobal/groups          groups with their contacts
    POST /_sandbox/smsglobal/groups          {name, keyword?}  create a group
    GET  /_sandbox/smsglobal/optouts         the opt-out list
    PUT  /_sandbox/smsglobal/config          {delivery_seconds, balance, failure_share,
                                             incoming_url (MXT's inbound URL for any reply)}
    POST /_sandbox/smsglobal/credentials     {api_key, api_secret}  accept another key pair
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time
from datetime import datetime, timezone
from typing import Any, Callable

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from engine.upstream import smsglobal as mac_auth
from sandbox.answers import Area, answers, checks, marked, marks, read_json, table

DEFAULT_KEY = "sandboxsmsglobalkey0000000000001"
DEFAULT_SECRET = "sandboxsmsglobalsecret0000000001"
DEFAULT_NUMBER = "61400000999"
MAX_SKEW_SECONDS = 300
PREFIX = "smsglobal/"

_ids = itertools.count(int(time.time()) * 1000)


def _id() -> int:
    return next(_ids)


def _stamp(moment: float | None = None) -> str:
    """SMSGlobal's response date-time: 'YYYY-MM-DD HH:MM:SS +hhmm'."""
    return datetime.fromtimestamp(moment or time.time(), timezone.utc).strftime("%Y-%m-%d %H:%M:%S %z")


def _parse(value: str | None) -> float | None:
    """A request date-time 'YYYY-MM-DD HH:MM:SS' (read as UTC) to epoch seconds."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def field_errors(**problems: str) -> JSONResponse:
    return JSONResponse({"errors": {k: {"errors": [v]} for k, v in problems.items()}}, status_code=400)


def not_found(what: str) -> JSONResponse:
    return JSONResponse({"code": 404, "message": f"{what} not found"}, status_code=404)


class SMSGlobal:
    """The stand-in's state, kept in the sandbox store under ``smsglobal/...`` collections."""

    def __init__(self, state) -> None:
        self.state = state
        self.store = state.store
        self.credentials: dict[str, str] = {DEFAULT_KEY: DEFAULT_SECRET}
        self.nonces: dict[tuple[str, str], float] = {}
        self.pushes: list[tuple[float, str, dict[str, Any]]] = []  # (delay s, url, JSON body)
        self._tasks: set[asyncio.Task] = set()

    def start_pushes(self) -> None:
        """POST what is queued in ``pushes``, each after its delay, on the running loop."""
        while self.pushes:
            delay, url, body = self.pushes.pop(0)
            task = asyncio.get_running_loop().create_task(self._push(delay, url, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _push(self, delay: float, url: str, body: dict[str, Any]) -> None:
        await asyncio.sleep(delay)
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                status = (await client.post(url, json=body)).status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        log = self.coll("pushes")  # in the store, so a reset clears it
        log[str(len(log))] = {"url": url, "body": body, "status": status, "t": time.time()}

    @property
    def delivery_seconds(self) -> float:
        """Seconds after which a sent message turns from 'sent' to 'delivered'."""
        return self.account()["delivery_seconds"]

    # --------------------------------------------------------------- data helpers

    def coll(self, name: str) -> dict[str, dict[str, Any]]:
        return self.store.bucket(PREFIX + name)

    def account(self) -> dict[str, Any]:
        acct = self.coll("account")
        if "me" not in acct:
            acct["me"] = {"id": "me", "balance": 100.0, "currency": "AUD", "delivery_seconds": 5.0,
                          "failure_share": 0.0}
        return acct["me"]

    def sent(self) -> list[dict[str, Any]]:
        now = time.time()
        out = []
        for msg in self.coll("messages").values():
            if msg["status"] == "sent" and now - msg["_sent_at"] >= self.delivery_seconds:
                msg["status"] = msg.get("_final", "delivered")
            out.append(msg)
        return out

    def send(self, destination: str, message: str, origin: str | None, scheduled: str | None,
             campaign: str | None = None, notify_url: str | None = None,
             incoming_url: str | None = None) -> dict[str, Any]:
        opted_out = destination in self.coll("optouts")
        msg = {"id": _id(), "outgoing_id": _id(), "origin": origin or DEFAULT_NUMBER,
               "destination": destination, "message": message,
               "status": "undelivered" if opted_out else ("scheduled" if scheduled else "sent"),
               "dateTime": _stamp(), "_sent_at": time.time(),
               "_final": ("undelivered" if random.random() < self.account()["failure_share"]
                          else "delivered")}
        if campaign:
            msg["campaign"] = campaign
        if incoming_url:
            msg["_incoming_url"] = incoming_url
        if notify_url and not scheduled:
            final = msg["status"] if opted_out else msg["_final"]
            self.pushes.append((0.0 if opted_out else self.delivery_seconds, notify_url, {
                "id": msg["id"], "outgoing_id": msg["outgoing_id"], "status": final.capitalize(),
                "update_time": datetime.now(timezone.utc).isoformat(timespec="seconds")}))
        self.coll("messages")[str(msg["id"])] = msg
        acct = self.account()
        acct["balance"] = round(acct["balance"] - 0.08, 2)
        return msg

    def receive(self, origin: str, destination: str, message: str) -> dict[str, Any]:
        msg = {"id": _id(), "origin": origin, "destination": destination or DEFAULT_NUMBER,
               "message": message, "dateTime": _stamp(), "isMultipart": False, "isUnicode": False,
               "partNumber": 1, "totalParts": 1, "campaign": {"id": 0}}
        self.coll("incoming")[str(msg["id"])] = msg
        if message.strip().upper() in ("STOP", "UNSUBSCRIBE"):
            self.opt_out(origin)
        self.push_incoming(msg)
        return msg

    def push_incoming(self, msg: dict[str, Any]) -> None:
        """Queue the push of an incoming message to the incomingUrl of the last send to its
        sender (SMSGlobal's push body is not documented; it names the message by ``id``)."""
        to_sender = [m for m in self.coll("messages").values()
                     if m["destination"] == msg["origin"] and m.get("_incoming_url")]
        url = (max(to_sender, key=lambda m: m["_sent_at"])["_incoming_url"] if to_sender
               else self.account().get("incoming_url"))  # else the account's own setting
        if url:
            self.pushes.append((0.0, url, _public(msg)))

    def opt_out(self, number: str) -> dict[str, Any]:
        optouts = self.coll("optouts")
        if number not in optouts:
            optouts[number] = {"number": number, "date": _stamp(), "status": "optedOut"}
        return optouts[number]

    def add_group(self, name: str, keyword: str = "", origin: str = "") -> dict[str, Any]:
        group = {"id": _id() % 10**7, "name": name, "keyword": keyword or name.lower()[:10],
                 "isGlobal": False, "contactCount": 0, "defaultOrigin": origin or DEFAULT_NUMBER}
        self.coll("groups")[str(group["id"])] = group
        return group

    def group_contacts(self, group_id: str) -> list[dict[str, Any]]:
        return [c for c in self.coll("contacts").values() if str(c["groupId"]) == str(group_id)]

    # --------------------------------------------------------------- the MAC check

    def check_mac(self, request: Request) -> str | None:
        """The API key of a correctly signed request, or None."""
        fields = mac_auth.parse_header(request.headers.get("authorization", ""))
        if fields is None or fields["id"] not in self.credentials:
            return None
        try:
            ts = int(fields["ts"])
        except ValueError:
            return None
        now = time.time()
        if abs(now - ts) > MAX_SKEW_SECONDS or not fields["nonce"] or len(fields["nonce"]) > 32:
            return None
        raw = request.scope.get("raw_path") or request.url.path.encode()
        uri = raw.decode("latin-1")
        if request.scope.get("query_string"):
            uri += "?" + request.scope["query_string"].decode("latin-1")
        host_header = request.headers.get("host", "")
        host, _, port = host_header.partition(":")
        if not port:
            port = str(mac_auth.DEFAULT_PORTS.get(request.url.scheme, 443))
        expected = mac_auth.mac(self.credentials[fields["id"]], ts=fields["ts"],
                                nonce=fields["nonce"], method=request.method, request_uri=uri,
                                host=host, port=port)
        if not _equal(expected, fields["mac"]):
            return None
        key = (fields["id"], fields["nonce"])
        for old, seen in list(self.nonces.items()):
            if now - seen > 2 * MAX_SKEW_SECONDS:
                del self.nonces[old]
        if key in self.nonces:
            return None  # a nonce can be used only once
        self.nonces[key] = now
        return fields["id"]


def _equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _page(items: list[dict[str, Any]], query: dict[str, str], key: str, base: int) -> JSONResponse:
    try:
        offset = int(query.get("offset") or base)
        limit = int(query.get("limit") or 20)
    except ValueError:
        return field_errors(offset="offset and limit must be whole numbers")
    if offset < base or not 1 <= limit <= 1000 or offset + limit > 10_000 + base:
        return field_errors(limit=f"offset must be at least {base}, limit 1 to 1000, and "
                                  "offset + limit at most 10000")
    start = offset - base
    return JSONResponse({"total": len(items), "offset": offset, "limit": limit,
                         key: [_public(i) for i in items[start:start + limit]]})


def _windowed(items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    start, end = _parse(query.get("startDate")), _parse(query.get("endDate"))

    def at(item: dict[str, Any]) -> float:
        return datetime.strptime(item["dateTime"], "%Y-%m-%d %H:%M:%S %z").timestamp()

    out = [i for i in items if (start is None or at(i) >= start) and (end is None or at(i) < end)]
    for name in ("origin", "destination", "status"):
        if query.get(name):
            out = [i for i in out if str(i.get(name)) == query[name]]
    return sorted(out, key=lambda i: (at(i), i["id"]), reverse=True)  # newest first


# ----------------------------------------------------------------------------- API handlers

# a handler: (the stand-in, path params, query, body) -> answer; each is marked with the
# endpoint it answers (@answers, the path's {name:int} matching digits only) and its route key
Handler = Callable[[SMSGlobal, dict[str, str], dict[str, str], dict[str, Any]], Response]


def _pattern(template: str) -> re.Pattern:
    """``/v2/sms/{id:int}`` -> the regex of its paths (a trailing slash aside): each parameter
    a named group of one segment, digits only for ``{name:int}``."""
    parts = []
    for seg in template.strip("/").split("/"):
        param = re.fullmatch(r"\{(\w+)(:int)?\}", seg)
        if param is None:
            parts.append(re.escape(seg))
        else:
            parts.append(f"(?P<{param[1]}>" + (r"\d+" if param[2] else "[^/]+") + ")")
    return re.compile("^/" + "/".join(parts) + "/?$")


def _number_ok(value: Any) -> bool:
    return isinstance(value, str) and 3 <= len(value) <= 15


@answers("POST /v2/sms", key="smsglobal.send_sms")
def send_sms(sg, params, query, body):
    batches = body.get("messages") if isinstance(body.get("messages"), list) else [body]
    out = []
    for batch in batches:
        dests = batch.get("destinations") or ([batch["destination"]] if batch.get("destination") else [])
        if not dests:
            return field_errors(destination="A destination or destinations is required.")
        bad = [d for d in dests if not _number_ok(d) or not str(d).isdigit()]
        if bad:
            return field_errors(destination=f"Destination number '{bad[0]}' is invalid.")
        if not isinstance(batch.get("message"), str) or not batch["message"]:
            return field_errors(message="Message is required.")
        origin = batch.get("origin")
        if origin is not None and not _number_ok(origin):
            return field_errors(origin="Origin is invalid.")
        if sg.account()["balance"] <= 0:
            return JSONResponse({"message": "Insufficient credit"}, status_code=402)
        for dest in dests:
            msg = sg.send(dest, batch["message"], origin, batch.get("scheduledDateTime"),
                          batch.get("campaign"), batch.get("notifyUrl"), batch.get("incomingUrl"))
            out.append({**_public(msg), "status": "Processing" if msg["status"] == "sent"
                        else msg["status"]})
    return JSONResponse({"messages": out})


@answers("GET /v2/sms", key="smsglobal.sent_message_status_changed")
def list_sent(sg, params, query, body):
    return _page(_windowed(sg.sent(), query), query, "messages", 1)


@answers("GET /v2/sms/{id:int}", key="smsglobal.sandbox.get_sms")
def get_sent(sg, params, query, body):
    for msg in sg.sent():
        if params["id"] in (str(msg["id"]), str(msg["outgoing_id"])):
            return JSONResponse(_public(msg))
    return not_found("Message")


@answers("GET /v2/sms-incoming", key="smsglobal.new_incoming_sms")
def list_incoming(sg, params, query, body):
    return _page(_windowed(list(sg.coll("incoming").values()), query), query, "messages", 1)


@answers("GET /v2/sms-incoming/{id:int}", key="smsglobal.sandbox.get_incoming")
def get_incoming(sg, params, query, body):
    msg = sg.coll("incoming").get(params["id"])
    return JSONResponse(_public(msg)) if msg is not None else not_found("Incoming message")


@answers("POST /v2/otp", key="smsglobal.send_otp")
def send_otp(sg, params, query, body):
    problems = {}
    if not _number_ok(body.get("destination")) or not str(body.get("destination")).isdigit():
        problems["destination"] = f"Destination number '{body.get('destination')}' is invalid."
    if "{*code*}" not in str(body.get("message") or ""):
        problems["message"] = ("Message template should contain a placeholder for code "
                               "i.e. {*code*}.")
    if problems:
        return field_errors(**problems)
    length = int(body.get("length") or 4)
    code = "".join(random.choice("0123456789") for _ in range(max(4, min(10, length))))
    now = time.time()
    request_id = f"{random.randrange(10**23, 10**24)}"
    fmt = "%Y-%m-%d %H:%M:%S"
    otp = {"requestId": request_id, "destination": body["destination"],
           "validUnitlTimestamp": time.strftime(fmt, time.gmtime(now + int(body.get("codeExpiry") or 600))),
           "createdTimestamp": time.strftime(fmt, time.gmtime(now)),
           "lastEventTimestamp": time.strftime(fmt, time.gmtime(now)), "status": "Sent",
           "_code": code, "_expires": now + int(body.get("codeExpiry") or 600)}
    sg.coll("otps")[request_id] = otp
    sg.send(body["destination"], body["message"].replace("{*code*}", code), body.get("origin"), None)
    return JSONResponse(_public(otp))


def _otp_event(sg, otp: dict[str, Any], status: str) -> JSONResponse:
    otp["status"] = status
    otp["lastEventTimestamp"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    return JSONResponse(_public(otp))


@answers("POST /v2/otp/requestid/{rid}/validate", key="smsglobal.validate_otp")
def validate_otp(sg, params, query, body):
    otp = sg.coll("otps").get(params["rid"])
    if otp is None:
        return not_found("OTP request")
    if otp["status"] != "Sent" or time.time() > otp["_expires"]:
        return JSONResponse({"error": f"The OTP request is {otp['status'].lower()} and can no "
                                      "longer be verified."}, status_code=400)
    if str(body.get("code") or "") != otp["_code"]:
        return JSONResponse({"error": "The input code does not match with the code sent to "
                                      "the user."}, status_code=400)
    return _otp_event(sg, otp, "Verified")


@answers("POST /v2/otp/requestid/{rid}/cancel", key="smsglobal.cancel_otp")
def cancel_otp(sg, params, query, body):
    otp = sg.coll("otps").get(params["rid"])
    if otp is None or otp["status"] not in ("Sent", "Cancelled"):
        return not_found("OTP request")
    return _otp_event(sg, otp, "Cancelled")


@answers("GET /v2/opt-outs", key="smsglobal.new_opt_out")
def list_optouts(sg, params, query, body):
    items = list(sg.coll("optouts").values())
    if query.get("phoneNumber"):
        items = [i for i in items if i["number"] == query["phoneNumber"]]
    items.sort(key=lambda i: i["date"], reverse=True)
    return _page(items, query, "optouts", 0)


@answers("POST /v2/opt-outs", key="smsglobal.add_opt_outs")
def add_optouts(sg, params, query, body):
    entries = body.get("optouts")
    if not isinstance(entries, list) or not entries:
        return field_errors(optouts="A list of {number} objects is required.")
    added = []
    for entry in entries:
        number = entry.get("number") if isinstance(entry, dict) else None
        if not _number_ok(number) or not str(number).isdigit():
            return field_errors(optouts=f"Number '{number}' is invalid.")
        added.append(sg.opt_out(number))
    return JSONResponse({"offset": 0, "limit": len(added), "total": len(added), "optouts": added})


@answers("DELETE /v2/opt-outs/{number}", key="smsglobal.remove_opt_out")
def remove_optout(sg, params, query, body):
    if sg.coll("optouts").pop(params["number"], None) is None:
        return not_found("Opt-out number")
    return Response(status_code=204)


@answers("GET /v2/group", key="smsglobal.sandbox.list_groups")
def list_groups(sg, params, query, body):
    groups = [{**g, "contactCount": len(sg.group_contacts(g["id"]))} for g in sg.coll("groups").values()]
    return _page(groups, query, "groups", 0)


@answers("POST /v2/group", key="smsglobal.sandbox.create_group")
def create_group(sg, params, query, body):
    if not body.get("name"):
        return field_errors(name="Name is required.")
    return JSONResponse(sg.add_group(body["name"], body.get("keyword", ""), body.get("defaultOrigin", "")))


@answers("GET /v2/group/{gid:int}/contacts", key="smsglobal.sandbox.group_contacts")
def group_contacts(sg, params, query, body):
    if params["gid"] not in sg.coll("groups"):
        return not_found("Group")
    return _page(sg.group_contacts(params["gid"]), query, "contacts", 0)


@answers("POST /v2/group/{gid:int}/contact", key="smsglobal.add_contact_to_group")
def add_contact(sg, params, query, body):
    if params["gid"] not in sg.coll("groups"):
        return not_found("Group")
    msisdn = body.get("msisdn")
    if not _number_ok(msisdn) or not str(msisdn).isdigit():
        return field_errors(msisdn=f"Msisdn '{msisdn}' is invalid.")
    fields = {k: body[k] for k in ("givenName", "familyName", "displayName", "emailAddress")
              if body.get(k) is not None}
    for contact in sg.group_contacts(params["gid"]):
        if contact["msisdn"] == msisdn:
            contact.update(fields)
            return JSONResponse(contact)
    contact = {"id": _id() % 10**8, "msisdn": msisdn, "givenName": "", "familyName": "",
               "displayName": "", "emailAddress": "", **fields, "groupId": int(params["gid"])}
    sg.coll("contacts")[str(contact["id"])] = contact
    return JSONResponse(contact)


@answers("GET /v2/user/credit-balance", key="smsglobal.get_credit_balance")
def credit_balance(sg, params, query, body):
    acct = sg.account()
    return JSONResponse({"balance": acct["balance"], "currency": acct["currency"]})


# ----------------------------------------------------------------------------- wiring

# the handlers above, in the order written, as (method, path regex, route key, handler)
HANDLERS: tuple[Handler, ...] = marked(vars())
table(HANDLERS)  # a badly named endpoint, or two handlers for one, stops the sandbox
if any(checks(fn) for fn in HANDLERS):  # GHL's checks: no SMSGlobal handler is sent through them
    raise ValueError("an SMSGlobal handler's mark declares GHL's checks")
ROUTES: list[tuple[str, re.Pattern, str, Handler]] = [
    (name.split(" ", 1)[0], _pattern(name.split(" ", 1)[1]), key or name, fn)
    for fn in HANDLERS for name, key in marks(fn)]


def seed(store, location_id: str, company_id: str) -> None:
    """A group to add contacts to, and nothing sent or received yet."""
    store.bucket(PREFIX + "groups")["4501"] = {
        "id": 4501, "name": "Sandbox customers", "keyword": "customers", "isGlobal": False,
        "contactCount": 0, "defaultOrigin": DEFAULT_NUMBER}


# its data lives in the GHL sandbox's store, seeded with the rest
AREA = Area("smsglobal", seed=seed)


def install(app: FastAPI) -> None:
    """Serve the stand-in from ``app`` ahead of the GHL catch-all route."""
    state = app.state.sandbox
    sg = SMSGlobal(state)
    app.state.smsglobal = sg
    router = APIRouter()

    @router.api_route("/v2/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def api(rest: str, request: Request) -> Response:
        path = "/v2/" + rest
        body = None
        if request.method in ("POST", "PUT", "PATCH"):
            body = await read_json(request)
        if state.latency_ms:
            await asyncio.sleep(state.latency_ms / 1000)
        key = None
        match = None
        for method, regex, route_key, handler in ROUTES:
            m = regex.match(path)
            if m and method == request.method:
                key, match = route_key, (handler, m.groupdict())
                break
        state.requests.append({"t": time.time(), "method": request.method, "path": path,
                               "query": dict(request.query_params), "body": body, "route": key,
                               "app": "smsglobal"})
        with state.store.lock:
            if sg.check_mac(request) is None:
                state.stats["403"] += 1
                return PlainTextResponse("Unknown Authentication Error", status_code=403)
            if match is None:
                return not_found("Resource")
            if request.method in ("POST", "PUT", "PATCH") and not isinstance(body, dict):
                return field_errors(body="The request body must be a JSON object.")
            state.stats[key] += 1
            handler, params = match
            resp = handler(sg, params, dict(request.query_params), body or {})
            sg.start_pushes()
            return resp

    control = APIRouter(prefix="/_sandbox/smsglobal")

    @control.post("/incoming")
    async def incoming(request: Request) -> dict:
        body = await read_json(request) or {}
        with state.store.lock:
            msg = _public(sg.receive(str(body["origin"]), str(body.get("destination") or ""),
                                     str(body.get("message") or "")))
            sg.start_pushes()
            return msg

    @control.post("/incoming/{msg_id}/push")
    async def push_again(msg_id: str) -> dict:
        with state.store.lock:
            msg = sg.coll("incoming").get(msg_id)
            if msg is None:
                return JSONResponse({"message": "no such incoming message"}, status_code=404)
            sg.push_incoming(msg)
            sg.start_pushes()
        return {"pushed": msg_id}

    @control.get("/pushes")
    async def pushes() -> dict:
        return {"pushes": list(sg.coll("pushes").values())}

    @control.get("/messages")
    async def messages() -> dict:
        with state.store.lock:
            return {"messages": [_public(m) for m in sg.sent()]}

    @control.post("/messages/{msg_id}/status")
    async def set_status(msg_id: str, request: Request) -> dict:
        body = await read_json(request) or {}
        with state.store.lock:
            for msg in sg.sent():
                if msg_id in (str(msg["id"]), str(msg["outgoing_id"])):
                    msg["status"] = str(body["status"])
                    return _public(msg)
        return JSONResponse({"message": "no such message"}, status_code=404)

    @control.get("/groups")
    async def groups() -> dict:
        with state.store.lock:
            return {"groups": [{**g, "contacts": sg.group_contacts(g["id"])}
                               for g in sg.coll("groups").values()]}

    @control.post("/groups")
    async def new_group(request: Request) -> dict:
        body = await read_json(request) or {}
        with state.store.lock:
            return sg.add_group(str(body.get("name") or "Group"), str(body.get("keyword") or ""))

    @control.get("/optouts")
    async def optouts() -> dict:
        return {"optouts": list(sg.coll("optouts").values())}

    @control.put("/config")
    async def config(request: Request) -> dict:
        body = await read_json(request) or {}
        if "delivery_seconds" in body:
            sg.account()["delivery_seconds"] = float(body["delivery_seconds"])
        if "balance" in body:
            sg.account()["balance"] = float(body["balance"])
        if "failure_share" in body:
            sg.account()["failure_share"] = float(body["failure_share"])
        if "incoming_url" in body:
            sg.account()["incoming_url"] = str(body["incoming_url"] or "")
        return {"delivery_seconds": sg.delivery_seconds, "balance": sg.account()["balance"],
                "failure_share": sg.account()["failure_share"]}

    @control.post("/credentials")
    async def credentials(request: Request) -> Response:
        body = await read_json(request)
        body = body if isinstance(body, dict) else {}
        missing = [f for f in ("api_key", "api_secret")
                   if not isinstance(body.get(f), str) or not body[f].strip()]
        if missing:
            return JSONResponse({"message": f"give {' and '.join(missing)} (non-empty strings): "
                                            "the key pair to accept from now on"},
                                status_code=422)
        sg.credentials[body["api_key"]] = body["api_secret"]
        return JSONResponse({"api_key": body["api_key"]})

    before = len(app.router.routes)
    app.include_router(control)
    app.include_router(router)
    ours = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = ours  # ahead of GHL's catch-all
