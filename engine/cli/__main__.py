"""``python -m engine.cli.main``: the ghl-engine command."""

from engine.cli.main import app

app()
