"""Every Redis key the engine writes, in one place. ``{}`` parts are filled with
``str.format`` by the modules that use them.

Units: a sorted set's score and a stored time say their unit beside the key. Hash fields named
``…_at`` hold epoch seconds (``created_at``, ``updated_at``, ``last_poll_at``), except where the
comment says ms (a delivery's ``created_at`` and ``next_attempt``, a watch's ``last_event_at``,
the times of provider work); fields named ``…_ms`` hold milliseconds.
"""

PREFIX = "ghle:"

API_KEY = PREFIX + "apikey:{digest}"            # hash: tenant, key_id, read_only, created_at (epoch s)
TENANT_KEYS = PREFIX + "tenant:{tenant}:keys"   # set of key ids (for revoke / list)
KEY_ID = PREFIX + "keyid:{key_id}"              # string: digest of that key
CONSOLE_SESSION = PREFIX + "console:{digest}"   # hash: tenant, key_id, read_only of one console login (SHA-256 of its session id; expires)
KEY_CONSOLE_SESSIONS = PREFIX + "keyid:{key_id}:console"  # set of console session digests opened with that key (ended with it)

CONNECTION = PREFIX + "conn:{conn_id}"          # hash: tenant, app, name, location_id, secret (encrypted)
TENANT_CONNECTIONS = PREFIX + "tenant:{tenant}:conns"  # set of connection ids
ALL_CONNECTIONS = PREFIX + "conns"              # set of every connection id (secrets rotation)

IDEMPOTENCY = PREFIX + "idem:{tenant}:{key}"    # string: JSON {body_hash, state, response}

RATE_CONNECTIONS = PREFIX + "rate:{scope}:conns"  # hash: connection id -> tenant tag, the tenants sharing the scope's budget
RATE_WINDOW = PREFIX + "rate:{scope}:w"         # zset: one member per grant -> its time (epoch ms), the sliding window
RATE_DAY = PREFIX + "rate:{scope}:d:{day}"      # counter of grants in the UTC day (expires after 25 h)
RATE_UPSTREAM_CAP = PREFIX + "rate:{scope}:cap" # remaining burst as last reported by upstream (expires)
RATE_UPSTREAM_DAY = PREFIX + "rate:{scope}:dcap"  # remaining daily budget reported by upstream (expires)

# polling triggers: subscriptions, watches, cursors, the scheduler and the delivery outbox
SUBSCRIPTION = PREFIX + "sub:{sub_id}"          # hash: tenant, trigger, connection_id, params, target_url, flow_id, watch, secret (sealed), ...
TENANT_SUBSCRIPTIONS = PREFIX + "tenant:{tenant}:subs"  # set of subscription ids
SUB_IDENTITIES = PREFIX + "tenant:{tenant}:sub-identities"  # hash: digest of (watch, target_url) -> subscription id
WATCH = PREFIX + "watch:{watch_id}"             # hash: connection_id, trigger, params, interval_minutes, phase_ms, status, status_reason, created_at (epoch s), last_poll_at (epoch s, float), last_event_at (epoch ms), last_slot_ms
WATCH_SUBSCRIPTIONS = PREFIX + "watch:{watch_id}:subs"  # zset: subscription id -> its interval_minutes
WATCH_LOCK = PREFIX + "watch:{watch_id}:lock"   # string: token of the poll running now (expires)
CONNECTION_WATCHES = PREFIX + "conn:{conn_id}:watches"  # set of watch ids reading through a connection
WATCHES_DUE = PREFIX + "watches:due"            # zset: watch id -> next poll time (epoch ms)
WATCHES_CATCHING_UP = PREFIX + "watches:catching_up"  # zset: watch id -> when it began catching up (epoch s, float)
CURSOR = PREFIX + "cursor:{watch_id}"           # hash: version, primed, hwm (epoch s), floor (epoch s), last (single objects), polled_at (epoch ms), late_s, deep_at (epoch s)
CURSOR_SEEN = PREFIX + "cursor:{watch_id}:seen" # zset: dedupe key seen in the overlap window -> item time (epoch s; keys mode: when last read)
DELIVERY = PREFIX + "dlv:{delivery_id}"         # hash: subscription, trigger, item_id, data, status, attempts, last_error, created_at and next_attempt (both epoch ms)
SUB_QUEUE = PREFIX + "sub:{sub_id}:queue"       # list of delivery ids waiting, in order (head in flight)
SUB_DELIVERIES = PREFIX + "sub:{sub_id}:dlvs"   # zset: delivery id -> created (epoch ms), the delivery log
SUB_DEAD = PREFIX + "sub:{sub_id}:dead"         # list of delivery ids that failed every try
SUBS_WITH_DEAD = PREFIX + "subs:dead"           # set of subscription ids whose dead list may be non-empty
SUB_LOCK = PREFIX + "sub:{sub_id}:lock"         # string: token of the delivery run sending now (expires)
DELIVERIES_DUE = PREFIX + "dlv:due"             # zset: subscription id -> next delivery attempt (epoch ms)

OAUTH_STATE = PREFIX + "oauth:state:{nonce}"   # string: tenant that started an authorization (TTL)
OAUTH_REFRESH_LOCK = PREFIX + "conn:{conn_id}:refresh-lock"  # lock: one token refresh at a time
AUTH_STRIKES = PREFIX + "conn:{conn_id}:auth-strikes"  # counter: 401/403 answers, expiring 600 s after the first
AUTH_QUARANTINE = PREFIX + "conn:{conn_id}:quarantine"  # string "1" while the connection is quarantined (expires after ENGINE_AUTH_QUARANTINE_SECONDS)
KEY_RATE = PREFIX + "keyrate:{key_id}:{window}"  # counter: requests of one API key in one minute ({window}: epoch s // 60)

# no-code flows
FLOW = PREFIX + "flow:{flow_id}"                # hash: tenant, name, definition (JSON), status, subscription_id, created_at, updated_at (epoch s)
TENANT_FLOWS = PREFIX + "tenant:{tenant}:flows" # set of flow ids
FLOW_RUNS = PREFIX + "flow:{flow_id}:runs"      # zset: run id -> created (epoch ms), the run log
FLOW_RUN = PREFIX + "flowrun:{run_id}"          # string: JSON of one run (trigger item, each step's input, output or error)
INSTALL_LOCK = PREFIX + "install:{tenant}:{location_id}:lock"  # string: token of the one worker connecting an installed location (expires)
FLOW_RUN_LOCK = PREFIX + "flowrun:{run_id}:lock"  # string: token of the one execution of the run now (expires)
FLOW_ECHOES = PREFIX + "tenant:{tenant}:flow-echoes"  # zset: fingerprint of a write a flow made -> expiry (epoch ms)
FLOW_ONCE = PREFIX + "flow:{flow_id}:once"      # hash: value of a step's once template -> run id

# pushed events (engine.inbound)
INBOUND_STREAM = PREFIX + "inbound:events"      # stream: source, body (raw JSON), received_at (epoch ms)
INBOUND_SEEN = PREFIX + "inbound:seen:{event_id}"  # string: a webhookId already queued (TTL)
INBOUND_DEAD = PREFIX + "inbound:dead"          # list: JSON of events whose handler failed every try
LOCATION_CONNECTIONS = PREFIX + "loc:{location_id}:conns"  # set of GHL connection ids of a location
COMPANY_CONNECTIONS = PREFIX + "cmp:{company_id}:conns"  # set of GHL connection ids of a company (agency)
HOOK_TOKEN = PREFIX + "hook:{digest}"           # string: connection id of a hook token (sha256 hex)
WATCH_POKE = PREFIX + "watch:{watch_id}:poke"   # string: time (epoch ms) of the last poll an event scheduled (expires)

# phone numbers
LOCATION_COUNTRY = PREFIX + "conn:{conn_id}:country"  # string: the GHL location's country (ISO 3166-1 alpha-2, "-" for none; expires)

# SMSGlobal as GHL's conversation provider
PROVIDER = PREFIX + "provider:{location_id}"    # hash: created_at, updated_at (epoch s), tenant, ghl_connection_id, smsglobal_connection_id, sender, default_region, kind, conversation_provider_id, keywords, ...
TENANT_PROVIDERS = PREFIX + "tenant:{tenant}:providers"  # set of location ids with a provider
PROVIDER_WORK = PREFIX + "pwork:{work_id}"      # hash: one keyed piece of provider work (an outbound message or a reply) and its state; its times created_at, sending_at, sent_at, reported_at, finished_at, report_since in epoch ms (delivered_at, failed_at: SMSGlobal's receipt time text)
PROVIDER_DUE = PREFIX + "pwork:due"             # zset: work id -> next attempt (epoch ms); a claim leases it
PROVIDER_READY = PREFIX + "pwork:ready"         # list: wake-up signals for the provider loop
PROVIDER_OUTGOING = PREFIX + "pwork:sg:{outgoing_id}"  # string: work id of the outbound message SMSGlobal knows as outgoing_id
PROVIDER_RECEIPT = PREFIX + "pwork:rcpt:{outgoing_id}"  # string: JSON receipt that came before its send was recorded
