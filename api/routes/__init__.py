"""The ``/v1`` routers, one module per resource: operations, actions, the GHL passthrough,
triggers, connections, subscriptions, flows, API keys, OAuth, inbound events, the SMS provider,
the console and health. Each parses HTTP, calls the engine and shapes the answer."""
