"""The console's Jinja2 page templates (HTML), served by :mod:`api.routes.console`."""
