"""The ``ghl-engine`` command line."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import typer

from engine.cli import devstate, ops

app = typer.Typer(help="ghl-engine: polling triggers and actions for GoHighLevel and SMSGlobal.",
                  no_args_is_help=True)
keys_app = typer.Typer(help="Tenants' API keys.", no_args_is_help=True)
secrets_app = typer.Typer(help="Encryption keys for stored credentials.", no_args_is_help=True)
ops_app = typer.Typer(help="The operations catalog.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(secrets_app, name="secrets")
app.add_typer(ops_app, name="operations")
catalog_app = typer.Typer(help="The catalog generated from GHL's official API documents.",
                          no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
zapier_app = typer.Typer(help="The Zapier app in integrations/zapier.", no_args_is_help=True)
app.add_typer(zapier_app, name="zapier")
provider_app = typer.Typer(help="SMSGlobal as a GHL location's SMS provider.", no_args_is_help=True)
app.add_typer(provider_app, name="sms-provider")
ops.register(app)


@app.callback()
def _settings_of_make_dev(ctx: typer.Context) -> None:
    """Commands run where `make dev` runs use its Redis and key file (its state file), unless
    the environment says otherwise. `dev` itself reads the state file only for its last ports:
    it starts its own Redis and sandbox again."""
    if ctx.invoked_subcommand != "dev":
        devstate.apply()


async def _with_redis(fn):
    from redis.asyncio import Redis

    from engine.core.settings import get_settings

    redis = Redis.from_url(get_settings().redis_url)
    try:
        return await fn(redis)
    finally:
        await redis.aclose()


@keys_app.command("create")
def keys_create(tenant: str = typer.Option(..., help="Tenant name: letters, digits, '-', '_'."),
                read_only: bool = typer.Option(False, help="The key may only read.")) -> None:
    """Create an API key for TENANT. The key is printed once and only its hash is stored."""
    from engine.accounts import tenants
    try:
        key_id, api_key = asyncio.run(_with_redis(
            lambda r: tenants.create_key(r, tenant, read_only=read_only)))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tenant") from None
    typer.echo(f"key id:  {key_id}")
    typer.echo(f"api key: {api_key}")
    typer.echo("Store the key now: it is not shown again.", err=True)


@keys_app.command("list")
def keys_list(tenant: str = typer.Option(None, "--tenant", envvar="ENGINE_TENANT",
                                         help="Only this tenant's keys (default: every tenant's)."),
              ) -> None:
    """The API keys: id, tenant, when made and role (read-write or read-only); never the key.
    Revoke one with `keys revoke KEY_ID`."""
    import time

    from engine.accounts import tenants
    found = asyncio.run(_with_redis(lambda r: tenants.list_keys(r, tenant)))
    ops.table("API keys", ["id", "tenant", "created", "role"],
              [[k["key_id"], k["tenant"],
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(k["created_at"])),
                "read-only" if k["read_only"] else "read-write"] for k in found])


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its id."""
    from engine.accounts import tenants
    if not asyncio.run(_with_redis(lambda r: tenants.revoke_key(r, key_id))):
        typer.echo(f"no key with id {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@keys_app.command("rotate")
def keys_rotate(key_id: str) -> None:
    """Replace key KEY_ID by a new key of the same tenant and access; the old one stops working."""
    from engine.accounts import tenants
    new = asyncio.run(_with_redis(lambda r: tenants.rotate_key(r, key_id)))
    if new is None:
        typer.echo(f"no key with id {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked: {key_id}")
    typer.echo(f"key id:  {new[0]}")
    typer.echo(f"api key: {new[1]}")
    typer.echo("Store the key now: it is not shown again.", err=True)


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored secret with the first key of ENGINE_SECRET_KEYS.

    Put the new key first (keep the old ones after it), run this, then remove the old keys."""
    from engine.accounts.rotation import rotate_all
    from engine.accounts.vault import Vault, VaultError
    from engine.core.settings import get_settings

    try:
        vault = Vault(get_settings().fernet_keys())
    except VaultError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    report = asyncio.run(_with_redis(lambda r: rotate_all(r, vault)))
    typer.echo(f"re-encrypted: {report.rotated}")
    if report.changed_meanwhile:
        typer.echo(f"written meanwhile (already current): {report.changed_meanwhile}")
    if report.unreadable:
        typer.echo(f"not readable with any key in ENGINE_SECRET_KEYS: {len(report.unreadable)}",
                   err=True)
        for where in report.unreadable[:20]:
            typer.echo(f"  {where}", err=True)
        raise typer.Exit(1)
    typer.echo("every stored secret now uses the first key; the other keys can be removed")


@secrets_app.command("generate-key")
def secrets_generate_key() -> None:
    """Print a new Fernet key for ENGINE_SECRET_KEYS."""
    from engine.accounts.vault import Vault

    typer.echo(Vault.generate_key())


@ops_app.command("list")
def operations_list(kind: str = typer.Option(None, help="trigger or action"),
                    app_name: str = typer.Option(None, "--app", help="ghl or smsglobal")) -> None:
    """List every operation: key, kind, method and path."""
    from engine.spec.registry import registry

    for op in registry().values():
        if (kind and op.kind != kind) or (app_name and op.app != app_name):
            continue
        typer.echo(f"{op.key:55} {op.kind:8} {op.upstream.method:6} {op.upstream.path}")


@ops_app.command("show")
def operations_show(key: str) -> None:
    """Show one operation as JSON: upstream, input schema, sample."""
    from engine.spec.catalog import describe
    from engine.spec.registry import closest, get

    op = get(key)
    if op is None:
        near = closest(key)
        typer.echo(f"unknown operation {key!r}" + (f"; did you mean {', '.join(near)}?" if near else ""),
                   err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(describe(op), indent=2))


def _provider_run(make):
    """Run a provider set-up call against Redis; print its result as JSON or its error."""
    from engine.core.errors import EngineError
    from engine.core.settings import get_settings
    from engine.provider import setup

    try:
        result = asyncio.run(_with_redis(make))
    except EngineError as exc:
        typer.echo(json.dumps(exc.body(), indent=2), err=True)
        raise typer.Exit(1) from None
    if result is not None:
        shown = ([setup.public(get_settings(), p) for p in result] if isinstance(result, list)
                 else setup.public(get_settings(), result))
        typer.echo(json.dumps(shown, indent=2))


def _provider_fields(**values) -> dict:
    return {k: v for k, v in values.items() if v is not None}


@provider_app.command("create")
def provider_create(tenant: str = ops.tenant_option(), ghl_connection: str = typer.Option(...),
                    smsglobal_connection: str = typer.Option(...),
                    sender: str = typer.Option(..., help="A number or an alphanumeric id."),
                    region: str = typer.Option("AU", help="Region of numbers without a country code."),
                    kind: str = typer.Option("default", help="default or extra"),
                    conversation_provider_id: str = typer.Option(None, help="For kind extra.")) -> None:
    """Make SMSGlobal the SMS provider of the GHL connection's location."""
    from pydantic import ValidationError

    from engine.provider import setup
    try:
        body = setup.ProviderIn(**_provider_fields(
            ghl_connection_id=ghl_connection, smsglobal_connection_id=smsglobal_connection,
            sender=sender, default_region=region, kind=kind,
            conversation_provider_id=conversation_provider_id))
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    _provider_run(lambda r: setup.create(r, ops.tenant_or_dev(tenant), body))


@provider_app.command("list")
def provider_list(tenant: str = ops.tenant_option(),
                  as_json: bool = typer.Option(False, "--json", help="Print JSON, not a table.")
                  ) -> None:
    """The tenant's provider set-ups, as a table (or JSON with --json)."""
    from engine.core.settings import get_settings
    from engine.provider import setup
    if as_json:
        _provider_run(lambda r: setup.list_for(r, ops.tenant_or_dev(tenant)))
        return
    found = asyncio.run(_with_redis(lambda r: setup.list_for(r, ops.tenant_or_dev(tenant))))
    shown = [setup.public(get_settings(), p) for p in found]
    ops.table("SMS provider set-ups",
              ["location", "kind", "sender", "region", "ghl connection", "smsglobal connection"],
              [[p["location_id"], p["kind"], p["sender"], p["default_region"],
                p["ghl_connection_id"], p["smsglobal_connection_id"]] for p in shown])


@provider_app.command("show")
def provider_show(location_id: str, tenant: str = ops.tenant_option()) -> None:
    """One location's provider set-up."""
    from engine.provider import setup
    _provider_run(lambda r: setup.get(r, ops.tenant_or_dev(tenant), location_id))


@provider_app.command("update")
def provider_update(location_id: str, tenant: str = ops.tenant_option(),
                    sender: str = typer.Option(None), region: str = typer.Option(None),
                    kind: str = typer.Option(None), conversation_provider_id: str = typer.Option(None),
                    smsglobal_connection: str = typer.Option(None)) -> None:
    """Change fields of a location's provider set-up (those not given keep their value)."""
    from pydantic import ValidationError

    from engine.provider import setup
    try:
        patch = setup.ProviderPatch(**_provider_fields(
            sender=sender, default_region=region, kind=kind,
            conversation_provider_id=conversation_provider_id,
            smsglobal_connection_id=smsglobal_connection))
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    _provider_run(lambda r: setup.update(r, ops.tenant_or_dev(tenant), location_id, patch))


@provider_app.command("delete")
def provider_delete(location_id: str, tenant: str = ops.tenant_option()) -> None:
    """Remove a location's provider set-up (GHL then needs another SMS provider)."""
    from engine.provider import setup
    _provider_run(lambda r: setup.delete(r, ops.tenant_or_dev(tenant), location_id))
    typer.echo(f"deleted the provider set-up of {location_id}")


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the HTTP API."""
    import uvicorn

    uvicorn.run("api.app:app_factory", factory=True, host=host, port=port, workers=workers,
                log_level="warning", log_config=None)  # its lines go through engine.core.logs


@app.command()
def worker() -> None:
    """Run an arq worker: scheduler tick, polls and deliveries (it waits out Redis outages)."""
    from engine.worker import run_forever

    run_forever()


@app.command()
def sandbox(host: str = "127.0.0.1", port: int = 8090) -> None:
    """Run the GHL and SMSGlobal stand-ins (for development, demos and tests)."""
    import uvicorn

    os.environ.setdefault("SANDBOX", "1")
    uvicorn.run("sandbox.app:app_factory", factory=True, host=host, port=port, log_level="warning")


@app.command("catching-up")
def catching_up() -> None:
    """List the watches reading a backlog (a read the page budget cut short), longest waiting
    first, with how far behind each is."""
    from engine.polling import subscriptions

    rows = asyncio.run(_with_redis(subscriptions.catching_up))
    if not rows:
        typer.echo("no watch is catching up")
        return
    for w in rows:
        typer.echo(f"{w['watch']}  {w['trigger']}  behind {w['behind_seconds']:.0f} s  "
                   f"{w['items_read']} items read since it began")


@app.command()
def dev() -> None:
    """Start everything for local development and print a ready API key and curl line."""
    from engine.cli.devserver import main

    main()


@zapier_app.command("generate")
def zapier_generate(check: bool = typer.Option(False, help="Only say whether the generated files "
                                                          "are stale (exit 1 if they are)."),
                    app_dir: Path = typer.Option(None, help="The Zapier app's directory "
                                                            "(default: integrations/zapier).")) -> None:
    """Write the Zapier app's definitions from the operations catalog."""
    from engine.export import zapier
    app_dir = app_dir or zapier.APP_DIR
    if check:
        if zapier.stale(app_dir):
            typer.echo(f"{app_dir / zapier.OUTPUT} is stale: run `{zapier.COMMAND}`", err=True)
            raise typer.Exit(1)
        typer.echo("up to date")
        return
    typer.echo(f"wrote {zapier.generate(app_dir)}")


if __name__ == "__main__":
    app()


@catalog_app.command("generate")
def catalog_generate(
        source: Path = typer.Option(..., "--from", exists=True, file_okay=False,
                                    help="Folder of GHL's official OpenAPI v2 documents (apps/*.json)."),
        check: bool = typer.Option(False, help="Only check: exit 1 when the committed files are stale.")) -> None:
    """Write operations/official.json and sandbox/official_answers.json from the documents."""
    from engine.export.official import CatalogError, run
    try:
        code = run(source, check=check)
    except CatalogError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)
