"""Talking to GHL and SMSGlobal: the pooled httpx client (budget, signing, sending, retries),
the per-location rate budget in Redis, per-app defaults and SMSGlobal's MAC signing."""
