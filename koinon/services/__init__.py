"""Background services of a node: signing tree heads, anchoring them on chain."""
