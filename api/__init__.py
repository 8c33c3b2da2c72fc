"""The HTTP API (FastAPI): the ``/v1`` routes, API-key authentication, the one error shape
``{"error": {"code", "message", "details"}}``, request ids and body limits, and the console."""
