"""The engine: packages stacked along the data flow (cli, worker, wiring, export, provider,
inbound, flows, polling, actions, oauth, runtime, upstream, accounts, spec, core); a module
imports only from its own layer or those below it (pyproject.toml, [tool.importlinter])."""
