"""SMSGlobal as GHL's conversation provider (SMS): provider set-up per location, outbound
messages from GHL sent through SMSGlobal with their status reported back, and replies added to
the contact's GHL conversation, each keyed and done once."""
