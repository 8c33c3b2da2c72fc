"""The operations catalog as Markdown, generated from the registry.

    python -m engine.export.docs            # writes docs/operations.md
    python -m engine.export.docs --check    # exits 1 when docs/operations.md is out of date

The text depends only on the specs, so it is the same on every machine and a test can tell
when the committed file is stale.
"""

from __future__ import annotations

import sys
from itertools import groupby
from pathlib import Path

from engine.spec.model import Operation
from engine.spec.registry import registry

OUT = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
APPS = {"ghl": "GoHighLevel (API v2)", "smsglobal": "SMSGlobal"}


def _cell(text: object) -> str:
    """Text that is safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _paginator(op: Operation) -> str:
    pag = op.trigger.paginator
    if pag.type == "none":
        return "none (one request)"
    if pag.type == "offset":
        return (f"offset: `{pag.offset_param}` + `{pag.size_param}`={pag.page_size} "
                f"({op.input(pag.offset_param).location})")
    if pag.type == "page":
        return (f"page: `{pag.page_param}` + `{pag.size_param}`={pag.page_size} "
                f"({op.input(pag.page_param).location})")
    if pag.type == "cursor":
        tokens = ", ".join(f"`{t.param}` ← {'last item' if t.source == 'last_item' else 'response'}"
                           f" `{t.path}`" for t in pag.tokens)
        size = f", `{pag.size_param}`={pag.page_size}" if pag.size_param else ""
        more = f", last page when `{pag.more_path}` is false" if pag.more_path else ""
        return f"cursor: {tokens}{size}{more} ({op.input(pag.tokens[0].param).location})"
    return f"next URL at `{pag.path}`"


def _dedupe(op: Operation) -> str:
    d = op.trigger.dedupe
    if d.strategy == "new":
        text = "new: each id once"
    elif d.strategy == "updated":
        text = f"updated: id + `{d.updated_field}`"
    else:
        text = "changed: id + content hash"
    return text + ("" if d.order == "unordered" else f"; upstream order {d.order.replace('_', ' ')}")


def _operation(op: Operation) -> list[str]:
    up = op.upstream
    lines = [f'<a id="{op.key}"></a>', "", f"#### `{op.key}` — {op.title}", "", op.description, "",
             f"- **Kind:** {op.kind}" + (" (search)" if op.search else ""),
             f"- **Request:** `{up.method} {up.path}`"
             + (f" — response {up.response}" if up.response != "json" else "")]
    if up.version:
        lines.append(f"- **Version:** `{up.version}`")
    lines.append("- **Scopes:** " + (", ".join(f"`{s}`" for s in up.scopes) or "none"))
    if op.trigger is not None:
        t = op.trigger
        items = f"`{t.items.path}`" + (" (one object)" if t.items.single else "")
        lines += [f"- **Items:** {items}; id `{t.items.id_field}`"
                  + (f"; time `{t.items.timestamp_field}`" if t.items.timestamp_field else ""),
                  f"- **Paging:** {_paginator(op)}",
                  f"- **Dedupe:** {_dedupe(op)}"]
        if t.events is not None:
            lines.append("- **Instant:** polls at once on the events "
                         + ", ".join(f"`{e}`" for e in t.events.types)
                         + (" (matched on " + ", ".join(f"`{p}`" for p in t.events.match) + ")"
                            if t.events.match else "")
                         + "; otherwise every reconciliation interval")
        if t.not_found_is_empty:
            lines.append("- **Not there yet:** a 404 answer means no item yet; the next poll "
                         "asks again")
        if t.window is not None:
            lines.append(f"- **Time window:** `{t.window.start_param}` … `{t.window.end_param}` "
                         f"({t.window.unit}, {t.window.lookback_hours:g} h back, "
                         f"{t.window.lookahead_hours:g} h ahead)")
    elif op.output.path != "$":
        lines.append(f"- **Result object:** `{op.output.path}`")
    lines.append("")
    if op.inputs:
        lines += ["| Input | In | Required | Help |", "|---|---|---|---|"]
        for field in op.inputs:
            required = "yes" if field.required else "no"
            if field.fill in ("location_id", "company_id"):
                required += f" (filled from the connection's {field.fill.replace('_id', '')})"
            elif field.fill:
                required += " (the engine's push URL when ENGINE_PUBLIC_URL is set)"
            help_text = field.help
            if field.enum:
                help_text += " One of: " + ", ".join(f"`{v}`" for v in field.enum) + "."
            if field.default is not None:
                help_text += f" Default: `{field.default}`."
            lines.append(f"| `{field.name}` | {field.location} | {required} | {_cell(help_text)} |")
    else:
        lines.append("No inputs.")
    lines.append("")
    return lines


def render() -> str:
    """docs/operations.md as text (Markdown): an index table and one section per operation of the
    registry, grouped by app and category."""
    ops = sorted(registry().values(),
                 key=lambda o: (o.app, o.category, o.group or "", o.kind != "trigger", o.key))
    triggers = sum(op.kind == "trigger" for op in ops)
    lines = ["# Operations", "",
             "Generated from the specs in `operations/` by `python -m engine.export.docs` (`make docs`); "
             "do not edit by hand.", "",
             f"{len(ops)} operations: {triggers} polling triggers and {len(ops) - triggers} actions.",
             "Run an action with `POST /v1/actions/{key}`; read a trigger with "
             "`POST /v1/triggers/{key}/items` or subscribe to it. Read one object by its id with "
             "the search actions named *Find … by ID*.", "",
             "A delivery is `{subscription_id, trigger, item_id, data}`: `data` is the upstream "
             "object unchanged, with its own `id`; `item_id` is the key the engine dedupes on "
             "(the object's id for new-item triggers, `<id>@<updated time>` or `<id>#<content "
             "hash>` for triggers that fire on changes). Use `data.id` to act on the object "
             "(flows see it as `trigger.id`) and `item_id` to tell deliveries apart.", ""]
    index = ["| Key | Kind | Title | Request |", "|---|---|---|---|"]
    index += [f"| [`{op.key}`](#{op.key}) | {op.kind} | {_cell(op.title)} | "
              f"`{op.upstream.method} {op.upstream.path}` |" for op in ops]
    lines += index + [""]
    for app, by_app in groupby(ops, key=lambda o: o.app):
        lines += [f"## {APPS.get(app, app)}", ""]
        for (category, group), members in groupby(by_app, key=lambda o: (o.category, o.group)):
            heading = category if not group or group == category else f"{category}: {group}"
            lines += [f"### {heading.replace('_', ' ')}", ""]
            for op in members:
                lines += _operation(op)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/operations.md; with ``--check`` in ``argv`` only compare it, returning 1 (and
    saying so on stderr) when it is out of date. Returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print(f"{OUT.name} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(registry())} operations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
