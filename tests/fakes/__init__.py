"""In-memory stand-ins for the adapters, for unit tests of the workflow (no servers)."""
