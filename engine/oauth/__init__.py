"""GHL's OAuth 2.0: the authorization-code flow, single-flight token refresh and location tokens
minted from an agency token."""
