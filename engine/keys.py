"""Every Redis key the engine writes, in one place. ``{}`` parts are filled by the helpers."""

PREFIX = "ghle:"

API_KEY = PREFIX + "apikey:{digest}"            # hash: tenant, key_id, read_only, created_at
TENANT_KEYS = PREFIX + "tenant:{tenant}:keys"   # set of key ids (for revoke / list)
KEY_ID = PREFIX + "keyid:{key_id}"              # string: digest of that key

CONNECTION = PREFIX + "conn:{conn_id}"          # hash: tenant, app, name, location_id, secret (encrypted)
TENANT_CONNECTIONS = PREFIX + "tenant:{tenant}:conns"  # set of connection ids
ALL_CONNECTIONS = PREFIX + "conns"              # set of every connection id (secrets rotation)

IDEMPOTENCY = PREFIX + "idem:{tenant}:{key}"    # string: JSON {body_hash, state, response}

RATE_WINDOW = PREFIX + "rate:{scope}:w"         # zset of grant times (ms) in the sliding window
RATE_DAY = PREFIX + "rate:{scope}:d:{day}"      # counter of grants in the UTC day
RATE_UPSTREAM_CAP = PREFIX + "rate:{scope}:cap" # remaining burst as last reported by upstream
RATE_UPSTREAM_DAY = PREFIX + "rate:{scope}:dcap"  # remaining daily budget reported by upstream
