"""The HTTP API: NIP-11, publishing and querying over HTTP, RFC 9457 problem responses."""
