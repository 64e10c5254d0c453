"""The transparency log: RFC 9162 Merkle maths, signed tree heads, receipts (pure code)."""
