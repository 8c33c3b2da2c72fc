"""The ``ghl-engine`` command (typer): the API, the worker, the dev stack and the operators'
commands."""
