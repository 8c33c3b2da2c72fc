"""Polling triggers, from the upstream read to the signed POST: subscriptions and the watches
they share, the poll, dedupe cursors, the delivery outbox and the webhook sender."""
