"""One action call: validated inputs placed into the upstream request, Idempotency-Key claims
and stored responses, and the raw GHL passthrough."""
