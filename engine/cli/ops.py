"""Operator commands: connections, subscriptions, deliveries, flows and a health check.

They work on the engine's Redis directly (the same that ``make dev`` started, through its state
file; see :mod:`engine.cli.devstate`), acting for one tenant (``--tenant``, default ``dev``, or
ENGINE_TENANT), with the same functions the API uses. Lists are rich tables; long work shows a
progress bar.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from typing import Any, Awaitable, Callable

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err = Console(stderr=True)

connections_app = typer.Typer(help="Connections: list, test, update credentials.",
                              no_args_is_help=True)
subscriptions_app = typer.Typer(help="Subscriptions: list, show, pause, resume, delete, poll now.",
                                no_args_is_help=True)
deliveries_app = typer.Typer(help="Deliveries: list, show, replay (one, or every dead letter).",
                             no_args_is_help=True)
flows_app = typer.Typer(help="Flows: list, runs, retry, pause, resume, test.", no_args_is_help=True)


def tenant_option() -> Any:
    """The ``--tenant`` option (env ENGINE_TENANT) shared by the operator commands; None means
    the dev tenant."""
    return typer.Option(None, "--tenant", envvar="ENGINE_TENANT",
                        help="The tenant to act for (default: 'dev', the tenant of make dev).")


def _run(work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(runtime)`` on a runtime opened from the settings; an engine error (not found,
    bad input) is printed as its message with exit code 1."""
    from engine.core.errors import EngineError
    from engine.core.settings import get_settings
    from engine.wiring import open_runtime

    async def go():
        rt = await open_runtime(get_settings())
        try:
            return await work(rt)
        finally:
            await rt.close()

    try:
        return asyncio.run(go())
    except EngineError as exc:
        err.print(f"[red]{cli_wording(exc.message)}[/red]")
        for problem in (exc.details if isinstance(exc.details, list) else []):
            err.print(f"  {problem.get('field')}: {problem.get('message')}")
        raise typer.Exit(1) from None


def cli_wording(message: str) -> str:
    """An engine message as the CLI says it: the API's "list yours with GET /v1/flows" becomes
    the command that lists them, `ghl-engine flows list`."""
    return re.sub(r"with GET /v1/(connections|subscriptions|flows)\b",
                  r"with `ghl-engine \1 list`", message)


def tenant_or_dev(tenant: str | None) -> str:
    """The tenant a command acts for: the one given, else ``dev`` (the tenant of make dev)."""
    return tenant or "dev"


def _when(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Print a table (a title, its columns, one row per list; None shows as "-")."""
    grid = Table(title=title, title_justify="left")
    for name in columns:
        grid.add_column(name, overflow="fold")
    for row in rows:
        grid.add_row(*["-" if v is None else str(v) for v in row])
    console.print(grid)



def _change(fn: Callable[..., Awaitable[dict[str, Any]]], object_id: str,
            tenant: str | None) -> dict[str, Any]:
    """Run ``fn(rt, tenant, object_id)`` (a pause or resume) and print the status it leaves."""
    shown = _run(lambda rt: fn(rt, tenant_or_dev(tenant), object_id))
    console.print(f"{object_id}: {shown['status']}")
    return shown


def _json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


# ----------------------------------------------------------------------------- connections


@connections_app.command("list")
def connections_list(tenant: str = tenant_option()) -> None:
    """The tenant's connections, with their status."""
    from engine.accounts import connections

    found = _run(lambda rt: connections.list_for(rt.redis, tenant_or_dev(tenant)))
    table("connections", ["id", "app", "name", "location", "status", "reason"],
           [[c.id, c.app, c.name, c.location_id or c.company_id, c.status, c.status_reason]
            for c in found])


@connections_app.command("test")
def connections_test(conn_id: str, tenant: str = tenant_option()) -> None:
    """Test a connection's credentials; when they work, what their failure paused resumes."""
    from engine.polling import health

    result = _run(lambda rt: health.test(rt, tenant_or_dev(tenant), conn_id))
    if result["ok"]:
        console.print(f"[green]ok[/green] ({result['upstream_status']}, "
                      f"{result['duration_ms']} ms); resumed {result['resumed']} paused watch(es)")
        return
    console.print(f"[red]failed[/red]: {result['error']['message']}")
    raise typer.Exit(1)


@connections_app.command("update")
def connections_update(conn_id: str, tenant: str = tenant_option(),
                       name: str = typer.Option(None, help="A new name."),
                       token: str = typer.Option(None, help="GHL: a new Private Integration "
                                                            "token."),
                       api_key: str = typer.Option(None, help="SMSGlobal: a new REST API key."),
                       api_secret: str = typer.Option(None, help="SMSGlobal: its secret.")) -> None:
    """Store new credentials (or a new name) and test them; a passing test resumes what the
    old credentials' failure paused."""
    from engine.polling import health

    result = _run(lambda rt: health.update(
        rt, tenant_or_dev(tenant), conn_id, name=name,
        credentials={"token": token, "api_key": api_key, "api_secret": api_secret}))
    conn = result["connection"]
    console.print(f"{conn['id']} ({conn['app']}, {conn['name']}): {conn['status']}")
    test = result["test"]
    if test is not None:
        if test["ok"]:
            console.print(f"[green]test passed[/green]; resumed {result['resumed']} paused "
                          "watch(es)")
        else:
            console.print(f"[red]test failed[/red]: {test['error']['message']}")
            raise typer.Exit(1)


# ----------------------------------------------------------------------------- subscriptions


@subscriptions_app.command("list")
def subscriptions_list(tenant: str = tenant_option()) -> None:
    """The tenant's subscriptions: status, last and next poll, what waits."""
    from engine.polling import subscriptions

    found = _run(lambda rt: subscriptions.list_for(rt, tenant_or_dev(tenant)))
    table("subscriptions", ["id", "trigger", "to", "every", "status", "last poll", "next poll",
                             "waiting", "dead", "reason"],
           [[s["id"], s["trigger"], s["target_url"] or s["flow_id"], f"{s['interval_minutes']} min",
             s["status"], _when(s["last_poll_at"]), _when(s["next_poll_at"]), s["waiting"],
             s["dead_letters"], s["status_reason"]] for s in found])


@subscriptions_app.command("show")
def subscriptions_show(sub_id: str, tenant: str = tenant_option()) -> None:
    """One subscription, as JSON."""
    from engine.polling import subscriptions

    _json(_run(lambda rt: subscriptions.get(rt, tenant_or_dev(tenant), sub_id)))


@subscriptions_app.command("pause")
def subscriptions_pause(sub_id: str, tenant: str = tenant_option()) -> None:
    """Stop sending its deliveries; new items wait in its queue."""
    from engine.polling import subscriptions

    _change(subscriptions.pause, sub_id, tenant)


@subscriptions_app.command("resume")
def subscriptions_resume(sub_id: str, tenant: str = tenant_option()) -> None:
    """Send its queue again; poll its trigger at once if it was paused."""
    from engine.polling import subscriptions

    _change(subscriptions.resume, sub_id, tenant)


@subscriptions_app.command("delete")
def subscriptions_delete(sub_id: str, tenant: str = tenant_option(),
                         yes: bool = typer.Option(False, "--yes", help="Do not ask.")) -> None:
    """Delete a subscription with its queue and delivery log."""
    from engine.polling import subscriptions

    if not yes:
        typer.confirm(f"delete {sub_id} with its queued deliveries?", abort=True)
    _run(lambda rt: subscriptions.delete(rt, tenant_or_dev(tenant), sub_id))
    console.print(f"deleted {sub_id}")


@subscriptions_app.command("poll-now")
def subscriptions_poll_now(sub_id: str, tenant: str = tenant_option()) -> None:
    """Poll its trigger now; new items are queued for the workers to send."""
    from engine.polling import poller

    result = _run(lambda rt: poller.poll_now(rt, tenant_or_dev(tenant), sub_id))
    console.print(f"{result.outcome}: {result.new} new item(s), {result.deliveries} "
                  f"delivery(ies) queued" + (f" ({result.detail})" if result.detail else ""))


# ----------------------------------------------------------------------------- deliveries


@deliveries_app.command("list")
def deliveries_list(sub_id: str, tenant: str = tenant_option(),
                    status: str = typer.Option(None, help="pending, retrying, delivered or dead"),
                    limit: int = typer.Option(50, min=1, max=1000)) -> None:
    """A subscription's deliveries, newest first."""
    from engine.polling import delivery

    found = _run(lambda rt: delivery.list_for(rt, tenant_or_dev(tenant), sub_id, status=status,
                                              limit=limit))
    table(f"deliveries of {sub_id}", ["id", "item", "status", "attempts", "last error",
                                       "created", "delivered"],
           [[d["id"], d["item_id"], d["status"], d["attempts"], d["last_error"],
             _when(d["created_at"]), _when(d["delivered_at"])] for d in found])


@deliveries_app.command("show")
def deliveries_show(sub_id: str, delivery_id: str, tenant: str = tenant_option()) -> None:
    """One delivery with its payload, as JSON."""
    from engine.polling import delivery

    _json(_run(lambda rt: delivery.get(rt, tenant_or_dev(tenant), sub_id, delivery_id)))


@deliveries_app.command("replay")
def deliveries_replay(sub_id: str = typer.Argument(None), delivery_id: str = typer.Argument(None),
                      dead: bool = typer.Option(False, "--dead", help="Replay every dead letter "
                                                "(of SUB_ID only, when given)."),
                      tenant: str = typer.Option(None, "--tenant", envvar="ENGINE_TENANT",
                                                 help="With --dead: only this tenant's; "
                                                      "else the tenant to act for.")) -> None:
    """Send a delivered or dead delivery again (same webhook-id), or with --dead every dead
    letter, behind what is queued. The workers send them."""
    from engine.polling import delivery

    if not dead:
        if not (sub_id and delivery_id):
            raise typer.BadParameter("give SUB_ID and DELIVERY_ID, or --dead")
        shown = _run(lambda rt: delivery.replay(rt, tenant_or_dev(tenant), sub_id, delivery_id))
        console.print(f"{delivery_id}: {shown['status']}")
        return

    async def replay_all(rt) -> int:
        letters = await delivery.dead_letters(rt, tenant=tenant, sub_id=sub_id)
        with Progress(TextColumn("replaying dead letters"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err) as progress:
            task = progress.add_task("replay", total=len(letters))
            for owner, sub, did in letters:
                await delivery.replay(rt, owner, sub, did)
                progress.advance(task)
        return len(letters)

    count = _run(replay_all)
    console.print(f"replayed {count} dead letter(s); the workers send them in order")


# ----------------------------------------------------------------------------- flows


@flows_app.command("list")
def flows_list(tenant: str = tenant_option()) -> None:
    """The tenant's flows, with their status and why."""
    from engine.flows import service as flows

    found = _run(lambda rt: flows.list_for(rt, tenant_or_dev(tenant)))
    table("flows", ["id", "name", "trigger", "steps", "status", "reason"],
           [[f["id"], f["name"], f["trigger"]["key"], len(f["steps"]), f["status"],
             f["status_reason"]] for f in found])


@flows_app.command("runs")
def flows_runs(flow_id: str, tenant: str = tenant_option(),
               status: str = typer.Option(None, help="Only runs in this status."),
               exclude: str = typer.Option(None, help="Leave out runs in this status "
                                                      "(e.g. skipped)."),
               limit: int = typer.Option(20, min=1, max=500)) -> None:
    """A flow's runs, newest first, with each step's status."""
    from engine.flows import service as flows

    found = _run(lambda rt: flows.list_runs(rt, tenant_or_dev(tenant), flow_id, limit=limit,
                                            status=status, exclude=exclude))
    table(f"runs of {flow_id}", ["id", "item", "status", "steps", "error", "test", "started"],
           [[r["id"], r["item_id"], r["status"],
             ", ".join(f"{s['id']}:{s['status']}" for s in r["steps"]), r["error"] or r["reason"],
             "yes" if r["test"] else "", _when(r["created_at"])] for r in found])


@flows_app.command("retry")
def flows_retry(flow_id: str, run_id: str, tenant: str = tenant_option()) -> None:
    """Run a failed run again from its failed step."""
    from engine.flows import service as flows

    run = _run(lambda rt: flows.retry_run(rt, tenant_or_dev(tenant), flow_id, run_id))
    console.print(f"{run_id}: {run['status']}" + (f" ({run['error']})" if run["error"] else ""))


@flows_app.command("pause")
def flows_pause(flow_id: str, tenant: str = tenant_option()) -> None:
    """Stop running steps; new items wait as held runs."""
    from engine.flows import service as flows

    _change(flows.pause, flow_id, tenant)


@flows_app.command("resume")
def flows_resume(flow_id: str, tenant: str = tenant_option()) -> None:
    """Run held runs, and poll the flow's trigger again if it was paused."""
    from engine.flows import service as flows

    shown = _change(flows.resume, flow_id, tenant)
    console.print(f"{shown['held_runs_started']} held run(s) started")


@flows_app.command("test")
def flows_test(flow_id: str, tenant: str = tenant_option(),
               item: str = typer.Option(None, help="The trigger item as JSON (default: the "
                                                   "trigger's newest item).")) -> None:
    """Run the flow once now, as a test run (its steps really act upstream)."""
    from engine.flows import service as flows

    given = json.loads(item) if item else None
    _json(_run(lambda rt: flows.test_run(rt, tenant_or_dev(tenant), flow_id, given)))


# ----------------------------------------------------------------------------- doctor


def doctor() -> None:
    """Check what the engine needs: Redis, settings, the key file, upstream reachability and
    the clock. Exit code 1 when a check fails."""
    import httpx

    from engine.accounts.vault import Vault, VaultError
    from engine.core.settings import get_settings

    rows: list[list[str]] = []
    failed = False

    def check(name: str, ok: bool | None, detail: str) -> None:
        nonlocal failed
        failed = failed or ok is False
        mark = {True: "[green]ok[/green]", False: "[red]FAIL[/red]", None: "[yellow]warn[/yellow]"}
        rows.append([name, mark[ok], detail])

    try:
        settings = get_settings()
        check("settings", True, f"REDIS_URL={_masked_url(settings.redis_url)}")
    except Exception as exc:  # noqa: BLE001 - a bad setting is what doctor reports
        check("settings", False, str(exc).splitlines()[0])
        _print_checks(rows)
        raise typer.Exit(1) from None
    try:
        Vault(settings.fernet_keys())
        where = (f"file {settings.secret_keys_file}" if not settings.secret_keys
                 and settings.secret_keys_file else "ENGINE_SECRET_KEYS")
        check("encryption keys", True, f"{len(settings.fernet_keys())} key(s) from {where}")
    except VaultError as exc:
        check("encryption keys", False, str(exc))
    if settings.secret_keys_file and settings.secret_keys_file.exists():
        mode = settings.secret_keys_file.stat().st_mode & 0o777
        check("key file mode", mode & 0o077 == 0 or None,
              f"{oct(mode)}" + ("" if mode & 0o077 == 0 else "; run chmod 600 on it"))

    async def redis_checks() -> tuple[float, float]:
        from redis.asyncio import Redis

        r = Redis.from_url(settings.redis_url, socket_timeout=3)
        try:
            started = time.time()
            await r.ping()
            seconds, micros = await r.time()
            return time.time() - started, seconds + micros / 1e6 - time.time()
        finally:
            await r.aclose()

    try:
        rtt, skew = asyncio.run(redis_checks())
        check("redis", True, f"answers in {rtt * 1000:.1f} ms")
        check("clock (vs Redis)", abs(skew) < 2 or None, f"{skew:+.2f} s")
    except Exception as exc:  # noqa: BLE001
        check("redis", False, f"{type(exc).__name__}: {exc}")
    for name, url in (("GHL", settings.ghl_base_url), ("SMSGlobal", settings.smsglobal_base_url)):
        try:
            resp = httpx.get(url, timeout=5)
            date = resp.headers.get("date")
            detail = f"{url} answers ({resp.status_code})"
            if date:
                from email.utils import parsedate_to_datetime

                skew = parsedate_to_datetime(date).timestamp() - time.time()
                detail += f"; its clock {skew:+.0f} s from ours"
                check(f"{name} reachable", abs(skew) < 30 or None, detail)
            else:
                check(f"{name} reachable", True, detail)
        except httpx.HTTPError as exc:
            check(f"{name} reachable", False, f"{url}: {type(exc).__name__}")
    _print_checks(rows)
    if failed:
        raise typer.Exit(1)


def _masked_url(url: str) -> str:
    """A Redis URL without its password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _print_checks(rows: list[list[str]]) -> None:
    table = Table(title="ghl-engine doctor", title_justify="left")
    for name in ("check", "result", "detail"):
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the operator commands to the ``ghl-engine`` command."""
    app.add_typer(connections_app, name="connections")
    app.add_typer(subscriptions_app, name="subscriptions")
    app.add_typer(deliveries_app, name="deliveries")
    app.add_typer(flows_app, name="flows")
    app.command("doctor")(doctor)
    os.environ.setdefault("COLUMNS", "160")  # tables stay readable when piped
