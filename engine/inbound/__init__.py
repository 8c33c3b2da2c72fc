"""Pushed events: GHL's marketplace-app and workflow webhooks and SMSGlobal's receipts and
replies are verified, queued durably in Redis and dispatched by type to registered handlers."""
