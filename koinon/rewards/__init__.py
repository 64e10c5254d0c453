"""Rewards and punishment: the pure, deterministic settlement of an epoch (DESIGN section 5)."""
