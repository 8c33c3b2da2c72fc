"""docs/operations.md is generated from the registry and kept up to date; the CLI lists and
shows operations."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from engine.cli.main import app
from engine.export import docs
from engine.spec.registry import registry


def test_operations_doc_is_up_to_date():
    current = docs.OUT.read_text() if docs.OUT.exists() else ""
    assert current == docs.render(), (
        "docs/operations.md is out of date with the specs in operations/: run `make docs` "
        "(python -m engine.export.docs) and commit the result")


def test_operations_doc_describes_every_operation():
    text = docs.render()
    for key, op in registry().items():
        section = text.split(f'<a id="{key}"></a>', 1)[1].split("<a id=", 1)[0]
        assert f"`{op.upstream.method} {op.upstream.path}`" in section, key
        for field in op.inputs:
            assert f"| `{field.name}` | {field.location} |" in section, (key, field.name)
        if op.trigger is not None:
            assert "**Paging:**" in section and "**Dedupe:**" in section, key
        if op.upstream.version:
            assert f"`{op.upstream.version}`" in section, key


def test_docs_check_mode_reports_a_stale_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "operations.md"
    stale.write_text("# Operations\n\nold\n")
    monkeypatch.setattr(docs, "OUT", stale)
    assert docs.main(["--check"]) == 1
    assert "run `make docs`" in capsys.readouterr().err
    assert docs.main([]) == 0 and docs.main(["--check"]) == 0


runner = CliRunner()


def test_cli_operations_list():
    result = runner.invoke(app, ["operations", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(registry())
    blog = next(line for line in lines if line.startswith("other.create_blog_post "))
    assert blog.split() == ["other.create_blog_post", "action", "POST", "/blogs/posts"]
    triggers = runner.invoke(app, ["operations", "list", "--kind", "trigger"]).output.splitlines()
    assert triggers and all(line.split()[1] == "trigger" for line in triggers)


def test_cli_operations_show():
    result = runner.invoke(app, ["operations", "show", "conversations.get_message_recording"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["upstream"] == {
        "method": "GET", "version": "2021-04-15", "scopes": ["conversations/message.readonly"],
        "path": "/conversations/messages/{messageId}/locations/{locationId}/recording"}
    assert set(shown["input_schema"]["required"]) == {"messageId", "locationId"}
    assert shown["trigger"]["dedupe"] == "changed"


def test_cli_operations_show_unknown_key_suggests_the_closest():
    result = runner.invoke(app, ["operations", "show", "other.create_blog_pots"])
    assert result.exit_code == 1
    assert "unknown operation 'other.create_blog_pots'" in result.output
    assert "did you mean other.create_blog_post" in result.output


def test_the_api_docs_load_their_assets_from_the_engine_not_a_cdn(api_server):
    import re

    import httpx

    for page in ("/docs", "/redoc"):
        html = httpx.get(api_server.url + page, timeout=30).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets and all(a.startswith("/") for a in assets), (page, assets)
        for asset in assets:
            assert httpx.get(api_server.url + asset, timeout=30).status_code == 200, asset
    assert httpx.get(api_server.url + "/openapi.json", timeout=30).json()["paths"]


def test_every_route_has_a_summary_and_a_description():
    from api.app import create_app

    spec = create_app().openapi()
    bare = [f"{method.upper()} {path}" for path, ops in spec["paths"].items()
            for method, op in ops.items() if not op.get("summary") or not op.get("description")]
    assert bare == [], "routes without a summary or a description: " + ", ".join(bare)


def test_every_request_body_has_an_example():
    from api.app import create_app

    spec = create_app().openapi()
    schemas = spec["components"]["schemas"]

    def has_example(schema: dict) -> bool:
        if "$ref" in schema:
            schema = schemas[schema["$ref"].split("/")[-1]]
        if "examples" in schema or "example" in schema:
            return True
        parts = schema.get("anyOf") or schema.get("oneOf") or []
        parts = [p for p in parts if p.get("type") != "null"]
        return bool(parts) and all(has_example(p) for p in parts)

    bare = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for media in (op.get("requestBody") or {}).get("content", {}).values():
                if not ("example" in media or "examples" in media
                        or has_example(media.get("schema", {}))):
                    bare.append(f"{method.upper()} {path}")
    assert bare == [], "request bodies without an example: " + ", ".join(bare)
