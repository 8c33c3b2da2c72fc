"""Local stand-ins for the GHL and SMSGlobal APIs, for development, demos, tests and benchmarks."""
