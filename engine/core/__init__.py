"""The bottom layer, importing nothing else of the engine: errors, settings, Redis key names,
Lua script helpers, logging, metrics and phone numbers."""
