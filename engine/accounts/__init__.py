"""Who calls and with which credentials: tenants' API keys (stored as SHA-256 digests),
connections with their credentials sealed at rest, hook tokens and per-tenant quotas."""
