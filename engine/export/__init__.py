"""Generators that only read the operation specs: the Zapier app's definitions,
docs/operations.md and the catalog generated from GHL's official documents."""
