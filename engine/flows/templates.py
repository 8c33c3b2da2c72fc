"""Flow templates: ready-made flows between SMSGlobal and GHL, made from a few options.

Each template names the connections it needs (by role: ``ghl``, ``smsglobal``), its options
(with help, defaults and choices) and builds one or more ordinary flow definitions, which are
checked and created like any flow. Templates are data plus a small builder each; the flows they
make can be read, changed, paused and deleted like hand-written ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from engine.core.errors import InputInvalid, NotFound
from engine.flows import service as flows
from engine.runtime import Runtime


@dataclass(frozen=True)
class Option:
    """One option of a flow template: its name, help text, Python type, whether it is required,
    its default and its allowed values (None: any)."""

    name: str
    help: str
    type: type = str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None

    def public(self) -> dict[str, Any]:
        """The option as the API lists it: name, help, type (its name: "str", "int" …), required,
        default and choices (a list or None)."""
        return {"name": self.name, "help": self.help, "type": self.type.__name__,
                "required": self.required, "default": self.default,
                "choices": list(self.choices) if self.choices else None}


Builder = Callable[[dict[str, Any], dict[str, str]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Template:
    """A ready-made flow: the connections it needs by role (``{"ghl": help, "smsglobal": help}``),
    its options, and ``build`` turning chosen connections and options into a flow's steps."""

    name: str
    title: str
    description: str
    connections: dict[str, str]
    build: Builder
    options: tuple[Option, ...] = field(default_factory=tuple)

    def public(self) -> dict[str, Any]:
        """The template as ``GET /v1/flow-templates`` lists it: name, title, description,
        connections and options."""
        return {"name": self.name, "title": self.title, "description": self.description,
                "connections": self.connections, "options": [o.public() for o in self.options]}


CONNECTIONS = {"ghl": "a GHL connection (the sub-account to work in)",
               "smsglobal": "a SMSGlobal connection"}
TAG_FILTER = "Only GHL contacts carrying this tag (leave empty for every contact)."
GROUP_ID = Option("group_id", "The SMSGlobal contact group's id (MXT > Contacts > Groups).",
                  required=True)
ORIGIN = Option("origin", "Sender of the SMS: a dedicated number or approved sender id "
                "(empty: the account's default).")
CONTACT_ID_FROM_FIND = "{{ (steps.find.data.contact or steps.create.data.contact).id }}"


def _tag_params(tag: str | None) -> dict[str, Any]:
    if not tag:
        return {}
    return {"filters": [{"field": "tags", "operator": "eq", "value": tag}]}


def _sms_input(destination: str, message: str, origin: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"destinations": [destination], "message": message}
    if origin:
        out["origin"] = origin
    return out


def _group_contact_input(group_id: str) -> dict[str, Any]:
    return {"groupId": str(group_id), "msisdn": "{{ trigger.phone | msisdn }}",
            "givenName": "{{ trigger.firstName | default('') }}",
            "familyName": "{{ trigger.lastName | default('') }}",
            "emailAddress": "{{ trigger.email | default('') }}"}


# ----------------------------------------------------------------------------- builders


def _inbound_sms(o: dict[str, Any], c: dict[str, str]) -> list[dict[str, Any]]:
    steps = [
        {"id": "find", "action": "contacts.find_contact", "connection_id": c["ghl"],
         "input": {"number": "{{ trigger.origin | e164 }}"}},
        {"id": "create", "action": "contacts.upsert_contact", "connection_id": c["ghl"],
         "when": "not steps.find.data.contact",
         "input": {"phone": "{{ trigger.origin | e164 }}", "source": "SMS (SMSGlobal)"}},
        {"id": "note", "action": "contacts.create_contact_note", "connection_id": c["ghl"],
         "input": {"contactId": CONTACT_ID_FROM_FIND,
                   "body": "SMS from {{ trigger.origin }} at {{ trigger.dateTime }}:\n"
                           "{{ trigger.message }}"}},
    ]
    if o.get("tag"):
        steps.append({"id": "tag", "action": "contacts.add_tags_to_contact",
                      "connection_id": c["ghl"],
                      "input": {"contactId": CONTACT_ID_FROM_FIND, "tags": [o["tag"]]}})
    params = {"destination": o["destination"]} if o.get("destination") else {}
    return [{"name": "Inbound SMS to GHL contact note",
             "trigger": {"key": "smsglobal.new_incoming_sms", "connection_id": c["smsglobal"],
                         "params": params, "interval_minutes": o["interval_minutes"]},
             "steps": steps}]


def _welcome(o: dict[str, Any], c: dict[str, str]) -> list[dict[str, Any]]:
    """The trigger fires for new and changed contacts. The group sync runs for each (the group
    keeps one entry per number, updated). The welcome SMS goes to a contact once: only to one
    added after the flow was made (its dateAdded, so a change to an older contact is not
    mistaken for a new one) and, through the step's ``once`` memory, never a second time when
    the contact changes again. A contact created and changed before the first poll saw it is
    still welcomed, which comparing dateAdded with dateUpdated would miss."""
    if o["mode"] == "group":
        if not o.get("group_id"):
            raise InputInvalid([{"field": "options.group_id", "location": "body",
                                 "message": "required when mode is 'group'"}])
        step = {"id": "add", "action": "smsglobal.add_contact_to_group",
                "connection_id": c["smsglobal"], "when": "trigger.phone",
                "input": _group_contact_input(o["group_id"])}
    else:
        since = round(time.time(), 3)  # contacts added from now on are new
        step = {"id": "send", "action": "smsglobal.send_sms", "connection_id": c["smsglobal"],
                "when": f"trigger.phone and (trigger.dateAdded | timestamp) >= {since}",
                "once": "{{ trigger.id }}",
                "input": _sms_input("{{ trigger.phone | msisdn }}", o["message"], o.get("origin"))}
    return [{"name": ("New or updated GHL contact: sync to SMSGlobal group" if o["mode"] == "group"
                      else "New GHL contact: welcome SMS"),
             "trigger": {"key": "contacts.search_contacts", "connection_id": c["ghl"],
                         "params": _tag_params(o.get("tag")),
                         "interval_minutes": o["interval_minutes"]},
             "steps": [step]}]


def _task_sms(o: dict[str, Any], c: dict[str, str]) -> list[dict[str, Any]]:
    completed = o["event"] == "completed"
    if completed and not o.get("task_id"):
        raise InputInvalid([{"field": "options.task_id", "location": "body",
                             "message": "required when event is 'completed': the task to watch"}])
    trigger = ({"key": "contacts.get_contact_task_by_id",
                "params": {"contactId": o["contact_id"], "taskId": o["task_id"]}} if completed
               else {"key": "contacts.get_contact_tasks", "params": {"contactId": o["contact_id"]}})
    message = o.get("message") or ("Task done: {{ trigger.title }}" if completed else
                                   "New task: {{ trigger.title }}, due {{ trigger.dueDate }}")
    steps: list[dict[str, Any]] = [
        {"id": "contact", "action": "contacts.get_contact", "connection_id": c["ghl"],
         "input": {"contactId": "{{ trigger.contactId }}"}}]
    if o["recipient"] == "owner":
        owner = ("(trigger.assignedTo | default('')) or "
                 "(steps.contact.data.assignedTo | default(''))")
        steps.append({"id": "owner", "action": "users.get_user", "connection_id": c["ghl"],
                      "when": owner, "input": {"userId": "{{ " + owner + " }}"}})
        destination, when = "{{ steps.owner.data.phone | msisdn }}", "steps.owner.data.phone"
    else:
        destination, when = "{{ steps.contact.data.phone | msisdn }}", "steps.contact.data.phone"
    if completed:
        when = f"trigger.completed and {when}"
    steps.append({"id": "send", "action": "smsglobal.send_sms", "connection_id": c["smsglobal"],
                  "when": when, "input": _sms_input(destination, message, o.get("origin"))})
    return [{"name": f"GHL task {o['event']}: SMS to the {o['recipient']}",
             "trigger": {**trigger, "connection_id": c["ghl"],
                         "interval_minutes": o["interval_minutes"]},
             "steps": steps}]


def _two_way(o: dict[str, Any], c: dict[str, str]) -> list[dict[str, Any]]:
    group = str(o["group_id"])
    to_sms = {
        "name": "Contact sync: GHL to SMSGlobal group",
        "trigger": {"key": "contacts.search_contacts", "connection_id": c["ghl"],
                    "params": _tag_params(o.get("tag")), "interval_minutes": o["interval_minutes"]},
        # a contact the other half of the sync just wrote into GHL is not sent back
        "skip_echo": "ghl:{{ trigger.phone | default('') | msisdn }}",
        "steps": [{"id": "add", "action": "smsglobal.add_contact_to_group",
                   "connection_id": c["smsglobal"], "when": "trigger.phone",
                   "echo": "sms:{{ trigger.phone | msisdn }}",
                   "input": _group_contact_input(group)}]}
    to_ghl_input: dict[str, Any] = {
        "phone": "{{ trigger.msisdn | e164 }}", "firstName": "{{ trigger.givenName | default('') }}",
        "lastName": "{{ trigger.familyName | default('') }}",
        "email": "{{ trigger.emailAddress | default('') }}", "source": "SMSGlobal group sync"}
    if o.get("tag"):
        to_ghl_input["tags"] = [o["tag"]]
    to_ghl = {
        "name": "Contact sync: SMSGlobal group to GHL",
        "trigger": {"key": "smsglobal.new_group_contact", "connection_id": c["smsglobal"],
                    "params": {"groupId": group}, "interval_minutes": o["interval_minutes"]},
        "skip_echo": "sms:{{ trigger.msisdn }}",
        "steps": [{"id": "upsert", "action": "contacts.upsert_contact", "connection_id": c["ghl"],
                   "echo": "ghl:{{ trigger.msisdn | msisdn }}", "input": to_ghl_input}]}
    return [to_sms, to_ghl]


def _segment(o: dict[str, Any], c: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": f"GHL tag '{o['tag']}' to SMSGlobal group {o['group_id']}",
             "trigger": {"key": "contacts.search_contacts", "connection_id": c["ghl"],
                         "params": _tag_params(o["tag"]), "interval_minutes": o["interval_minutes"]},
             "steps": [{"id": "add", "action": "smsglobal.add_contact_to_group",
                        "connection_id": c["smsglobal"], "when": "trigger.phone",
                        "input": _group_contact_input(o["group_id"])}]}]


INTERVAL = Option("interval_minutes", "How often to check for new items, 1 to 15 minutes.",
                  type=int, default=5)

TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template(
        "inbound_sms_to_ghl", "Inbound SMS → GHL contact + note",
        "Each SMS received on SMSGlobal finds the GHL contact with the sender's number (or creates "
        "it), adds the text as a note, and optionally tags the contact.",
        CONNECTIONS, _inbound_sms,
        (Option("tag", "Tag to add to the contact, e.g. 'sms-reply' (empty: no tag)."),
         Option("destination", "Only SMS sent to this number of yours, digits with country code "
                "(empty: all your numbers)."),
         replace(INTERVAL, default=1))),
    Template(
        "ghl_contact_welcome", "New or updated GHL contact → welcome SMS, or SMSGlobal group",
        "Mode 'sms': each GHL contact added after the flow is made gets one welcome SMS once it "
        "has a phone number, never a second one when it changes. Mode 'group': each new or "
        "changed GHL contact with a phone number is added to an SMSGlobal contact group, or "
        "its entry there updated.",
        CONNECTIONS, _welcome,
        (Option("mode", "'sms' sends a welcome SMS; 'group' adds the contact to a group.",
                default="sms", choices=("sms", "group")),
         Option("message", "The SMS text; may use the contact's fields, e.g. "
                "{{ trigger.firstName }}.",
                default="Hi {{ trigger.firstName | default('there') }}, thanks for getting in "
                        "touch!"),
         ORIGIN, replace(GROUP_ID, required=False, help=GROUP_ID.help + " Needed for mode 'group'."),
         Option("tag", TAG_FILTER), INTERVAL)),
    Template(
        "ghl_task_sms", "GHL contact task created or completed → SMS",
        "When a task is created on a contact (or a given task is completed), texts the contact "
        "or the task's owner (the task's assignee, else the contact's owner).",
        CONNECTIONS, _task_sms,
        (Option("contact_id", "The GHL contact whose tasks to watch.", required=True),
         Option("event", "'created' fires for new tasks; 'completed' when task_id is completed.",
                default="created", choices=("created", "completed")),
         Option("task_id", "The task to watch, for event 'completed'."),
         Option("recipient", "Who gets the SMS.", default="contact", choices=("contact", "owner")),
         Option("message", "The SMS text; may use the task's fields, e.g. {{ trigger.title }} "
                "(empty: a short default)."),
         ORIGIN, INTERVAL)),
    Template(
        "two_way_contact_sync", "Two-way contact sync: GHL ↔ SMSGlobal group",
        "New or changed GHL contacts are added to (or updated in) an SMSGlobal group, and "
        "contacts added to that group are created or updated in GHL. Writes made by the sync "
        "are recognised and not synced back, so the two sides settle instead of looping. "
        "Creates two flows.",
        CONNECTIONS, _two_way,
        (GROUP_ID, Option("tag", "Only GHL contacts with this tag go to SMSGlobal; contacts "
                          "coming from SMSGlobal get it."), INTERVAL)),
    Template(
        "tag_to_smsglobal_group", "GHL tag → SMSGlobal group (segmentation)",
        "Each GHL contact carrying a tag is added to an SMSGlobal contact group — a new one, "
        "or an existing one when it is tagged later — and its entry is kept up to date when "
        "it changes, so a segment built in GHL can be messaged from SMSGlobal.",
        CONNECTIONS, _segment,
        (Option("tag", "The GHL tag that marks the segment, e.g. 'vip'.", required=True),
         GROUP_ID, INTERVAL)),
)}


def catalog() -> list[dict[str, Any]]:
    """Every ready-made template as the API lists it (:meth:`Template.public`)."""
    return [t.public() for t in TEMPLATES.values()]


def _options(template: Template, given: dict[str, Any]) -> dict[str, Any]:
    problems = []
    known = {o.name: o for o in template.options}
    for name in given:
        if name not in known:
            problems.append({"field": f"options.{name}", "location": "body",
                             "message": f"unknown option; {template.name} takes: "
                                        f"{', '.join(known)}"})
    out: dict[str, Any] = {}
    for opt in template.options:
        value = given.get(opt.name)
        if value in (None, ""):
            if opt.required:
                problems.append({"field": f"options.{opt.name}", "location": "body",
                                 "message": f"required: {opt.help}"})
            out[opt.name] = opt.default
            continue
        if opt.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append({"field": f"options.{opt.name}", "location": "body",
                                 "message": "must be a whole number"})
                continue
        elif not isinstance(value, (str, int)) or isinstance(value, bool):
            problems.append({"field": f"options.{opt.name}", "location": "body",
                             "message": "must be a string"})
            continue
        else:
            value = str(value)
        if opt.choices and value not in opt.choices:
            problems.append({"field": f"options.{opt.name}", "location": "body",
                             "message": f"must be one of {', '.join(map(str, opt.choices))}"})
        out[opt.name] = value
    if problems:
        raise InputInvalid(problems)
    return out


async def instantiate(rt: Runtime, tenant: str, name: str, *, connections: dict[str, str],
                      options: dict[str, Any], title: str | None = None) -> list[dict[str, Any]]:
    """Create the template's flows with the caller's connections; all or none."""
    template = TEMPLATES.get(name)
    if template is None:
        raise NotFound(f"no flow template {name!r}; list them with GET /v1/flow-templates",
                       code="template_not_found")
    missing = [{"field": f"connections.{role}", "location": "body", "message": f"required: {what}"}
               for role, what in template.connections.items() if not connections.get(role)]
    if missing:
        raise InputInvalid(missing)
    defs = template.build(_options(template, options), connections)
    parsed = []
    for n, d in enumerate(defs):
        if title:
            d["name"] = title if len(defs) == 1 else f"{title} ({n + 1})"
        parsed.append(flows.FlowIn.model_validate(d))
    created: list[dict[str, Any]] = []
    try:
        for flow in parsed:
            created.append(await flows.create(rt, tenant, flow, template=name))
    except Exception:
        for done in created:
            await flows.delete(rt, tenant, done["id"])
        raise
    return created
